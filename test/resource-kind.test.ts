/**
 * A deployment whose resource kind cannot be told from its name: the content decides, and a document cut off or
 * malformed inside its root tag gets the parser's error for its kind, not "unknown resource type" (newcomer
 * finding of issue 11).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testEngine } from './helpers.ts';
import { resourceKind } from '../src/engine/deployment.ts';

const BPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="cut" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>`;

test('Given a BPMN document cut off inside its root tag, its kind is still BPMN', () => {
  assert.is(resourceKind('upload', BPMN.slice(0, 120)), 'bpmn');
  assert.is(resourceKind('upload', '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="x'), 'dmn');
  assert.is(resourceKind('upload', '<html><body>hi</body></html>'), null);
});

test('When a cut-off BPMN document is deployed without a file name, Then the refusal is a parse error, not an unknown type', async () => {
  const t = await testEngine();
  try {
    for (const cut of [120, 200]) {
      const err = await t.engine.deploy([{ name: 'upload', content: BPMN.slice(0, cut) }]).then(
        () => null,
        (e) => e,
      );
      assert.ok(err, `cut at ${cut} was deployed`);
      assert.is(err.code, 'BPMN_INVALID', err.message);
      assert.match(err.details[0].message, 'not well-formed XML');
      const messages = JSON.stringify(err.details);
      assert.not.match(messages, 'unknown resource type', messages);
    }
  } finally {
    await t.close();
  }
});

test('When an XML document of another kind is deployed, Then the refusal names its root element', async () => {
  const t = await testEngine();
  try {
    const err = await t.engine.deploy([{ name: 'upload', content: '<?xml version="1.0"?><html><body/></html>' }]).then(
      () => null,
      (e) => e,
    );
    assert.ok(err);
    assert.match(JSON.stringify(err.details), 'the XML root element is <html>');
  } finally {
    await t.close();
  }
});

test.run();
