/**
 * The JUEL interpreter (src/engine/juel.ts): operators and their word forms, EL coercions (JSR 245 section 1.x),
 * precedence, `empty`, the ternary, property paths, Camunda 7's "Cannot resolve identifier", the refusal of method
 * calls with what to write instead, and that no expression reaches JavaScript internals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluateJuel, juelProblem, juelVariables, parseJuel, JuelError } from '../src/engine/juel.ts';
import { evaluateFeel } from '../src/engine/expressions.ts';

const vars = {
  approved: false,
  status: 'ok',
  amount: 1500,
  rate: 0.25,
  category: 'car',
  documents: [] as string[],
  claim: { id: 'C-1', parts: [{ name: 'door', cost: 300 }, { name: 'wing', cost: 700 }], meta: {} },
  text12: '12',
  textTrue: 'TRUE',
  none: null,
  blank: '',
};
const ev = (body: string, v: Record<string, unknown> = vars) => evaluateJuel(body, v);
const fails = (body: string, pattern: RegExp, v: Record<string, unknown> = vars) => {
  try {
    const value = evaluateJuel(body, v);
    assert.unreachable(`${body} gave ${JSON.stringify(value)}`);
  } catch (err) {
    assert.instance(err, JuelError, body);
    assert.match((err as Error).message, pattern, body);
  }
};

test('operators and their word forms', () => {
  const cases: [string, unknown][] = [
    ['!approved', true],
    ['not approved', true],
    ["status == 'ok'", true],
    ['status eq "ok"', true],
    ["status != 'ok'", false],
    ["status ne 'ok'", false],
    ["amount > 1000 && category ne 'travel'", true],
    ["amount gt 1000 and category eq 'travel'", false],
    ['approved || amount >= 1500', true],
    ['approved or amount ge 1501', false],
    ['amount < 2000', true],
    ['amount lt 1500', false],
    ['amount <= 1500', true],
    ['amount le 1499', false],
    ['1 + 2', 3],
    ['5 - 7', -2],
    ['6 * 7', 42],
    ['7 / 2', 3.5],
    ['7 div 2', 3.5],
    ['7 % 3', 1],
    ['7 mod 3', 1],
    ['-amount', -1500],
    ['- -3', 3],
    ['approved ? "yes" : "no"', 'no'],
    ["amount > 1000 ? 'big' : amount > 100 ? 'mid' : 'small'", 'big'],
  ];
  for (const [body, expected] of cases) assert.equal(ev(body), expected, body);
});

test('literals: single and double quoted texts with escapes, integers, decimals, booleans, null', () => {
  assert.is(ev("'it\\'s'"), "it's");
  assert.is(ev('"say \\"hi\\""'), 'say "hi"');
  assert.is(ev("'a\\\\b'"), 'a\\b');
  assert.is(ev("'no ${escape}'"), 'no ${escape}');
  assert.is(ev('42'), 42);
  assert.is(ev('1.5'), 1.5);
  assert.is(ev('1e3'), 1000);
  assert.is(ev('true'), true);
  assert.is(ev('false'), false);
  assert.is(ev('null'), null);
});

test('precedence: unary, multiplicative, additive, relational, equality, and, or, ternary; parentheses', () => {
  assert.is(ev('1 + 2 * 3'), 7);
  assert.is(ev('(1 + 2) * 3'), 9);
  assert.is(ev('10 - 4 - 3'), 3, 'left associative');
  assert.is(ev('2 * 3 > 5 == true'), true);
  assert.is(ev('true || false && false'), true, '&& binds tighter than ||');
  assert.is(ev('(true || false) && false'), false);
  assert.is(ev('!approved && amount > 1000'), true, '! applies to approved only');
  assert.is(ev('-2 * 3'), -6);
  assert.is(ev('empty documents && !approved'), true);
  assert.is(ev('approved || true ? 1 : 2'), 1, 'the ternary binds loosest');
});

test('coercions of == and != (EL 1.8.2): numbers, texts, booleans, null', () => {
  assert.is(ev("text12 == 12"), true, 'a text against a number: compared as numbers');
  assert.is(ev("12 == '12'"), true);
  assert.is(ev("1.5 == '1.5'"), true, 'decimals');
  assert.is(ev('1 == 1.0'), true);
  assert.is(ev("textTrue == true"), true, 'a text against a boolean: compared as booleans ("TRUE" is true)');
  assert.is(ev("'yes' == true"), false);
  assert.is(ev('none == null'), true);
  assert.is(ev('null == null'), true);
  assert.is(ev("none == ''"), false, 'null equals only null');
  assert.is(ev('none != 0'), true);
  assert.is(ev("'a' == 'a'"), true);
  assert.is(ev('claim.parts == claim.parts'), true, 'lists compare by content');
  assert.is(ev('claim.meta == claim.parts'), false);
  fails("'abc' == 1", /cannot use the text "abc" as an integer/);
  fails('true == 1', /cannot use the boolean true as an integer/);
});

test('coercions of < > <= >= (EL 1.8.1): null gives false, numbers vs texts, texts lexically', () => {
  assert.is(ev('none < 1'), false);
  assert.is(ev('none > 1'), false);
  assert.is(ev('none >= 1'), false);
  assert.is(ev('null <= null'), true);
  assert.is(ev('null < null'), false);
  assert.is(ev("text12 > 9"), true, 'compared as numbers (as texts "12" < "9")');
  assert.is(ev("'12' > '9'"), false, 'two texts: lexically');
  assert.is(ev("'b' > 'a'"), true);
  assert.is(ev('rate < 0.3'), true);
  assert.is(ev('true > false'), true);
  fails("'abc' < 1", /cannot use the text "abc" as an integer/);
  fails('claim.meta < 1', /cannot use a map as an integer/);
});

test('arithmetic coercions (EL 1.7): null is 0, number texts, / is decimal, % by zero', () => {
  assert.is(ev('none + 1'), 1);
  assert.is(ev('null + null'), 0);
  assert.is(ev("text12 + 1"), 13);
  assert.is(ev("'1.5' * 2"), 3);
  assert.is(ev("blank + 2"), 2, "'' counts as 0");
  assert.is(ev('1 / 4'), 0.25);
  assert.is(ev('7.5 % 2'), 1.5);
  assert.is(ev('-none'), 0);
  fails('7 % 0', /division by zero/);
  fails("category + 1", /cannot use the text "car" as an integer/);
  fails('approved + 1', /cannot use the boolean false as an integer/);
  fails("-category", /cannot use the text "car"/);
});

test('booleans: null and "" are false, "true" in any case is true, numbers are an error', () => {
  assert.is(ev('!none'), true);
  assert.is(ev('!blank'), true);
  assert.is(ev('!textTrue'), false);
  assert.is(ev("!'yes'"), true);
  assert.is(ev('none ? 1 : 2'), 2);
  fails('!amount', /cannot use the number 1500 as a boolean/);
  fails('amount && true', /as a boolean/);
});

test('&& and || stop at the operand that decides (the other is never evaluated)', () => {
  assert.is(ev('approved && missing'), false);
  assert.is(ev('!approved || missing'), true);
  assert.is(ev('approved ? missing : 1'), 1);
  fails('!approved && missing', /Cannot resolve identifier 'missing'/);
});

test('empty: null, "", [], {} are empty; anything else is not', () => {
  assert.is(ev('empty none'), true);
  assert.is(ev('empty blank'), true);
  assert.is(ev('empty documents'), true);
  assert.is(ev('empty claim.meta'), true);
  assert.is(ev('empty claim.parts'), false);
  assert.is(ev('empty status'), false);
  assert.is(ev('empty amount'), false);
  assert.is(ev('empty claim.missing'), true, 'a missing key is null');
  assert.is(ev('not empty claim.parts'), true);
});

test('property paths: a.b, a["b"], a[0], nested; missing keys and indexes are null; a property of null is null', () => {
  assert.is(ev('claim.id'), 'C-1');
  assert.is(ev("claim['id']"), 'C-1');
  assert.is(ev('claim["id"]'), 'C-1');
  assert.is(ev('claim.parts[1].name'), 'wing');
  assert.is(ev("claim.parts['0'].cost"), 300, 'an index written as a text');
  assert.is(ev('claim.parts[0].cost + claim.parts[1].cost'), 1000);
  assert.is(ev('claim.parts[2]'), null);
  assert.is(ev('claim.parts[-1]'), null);
  assert.is(ev('claim.nothing'), null);
  assert.is(ev('claim.nothing.deeper'), null);
  assert.is(ev('none.x'), null);
  assert.is(ev("claim[category]"), null, 'the key is computed');
  assert.equal(ev('claim.parts[0]'), { name: 'door', cost: 300 });
  fails('claim.parts.length', /a list has no property "length"/);
  fails('status.length', /cannot read the property "length" of the text "ok"/);
  fails('amount.x', /of the number 1500/);
});

test('an identifier that is not a variable is an error (Camunda 7: "Cannot resolve identifier"); a null variable is null', () => {
  fails('missing', /^Cannot resolve identifier 'missing'/);
  fails('missing.x', /Cannot resolve identifier 'missing'/);
  assert.is(ev('none'), null);
  assert.is(ev('x', { x: undefined }), null);
});

test('no way into JavaScript internals: prototype properties are null on maps, errors elsewhere, never functions', () => {
  for (const body of ['claim.constructor', "claim['constructor']", 'claim.__proto__', "claim['__proto__']", 'claim.prototype', 'claim.toString', 'claim.hasOwnProperty', 'claim.constructor.constructor']) {
    assert.is(ev(body), null, body);
  }
  fails('constructor', /Cannot resolve identifier 'constructor'/);
  fails('toString', /Cannot resolve identifier 'toString'/);
  fails('__proto__', /Cannot resolve identifier '__proto__'/);
  fails('documents.constructor', /a list has no property "constructor"/);
  fails("documents['__proto__']", /a list has no property/);
  fails('status.constructor', /cannot read the property "constructor"/);
  fails('amount.constructor', /cannot read the property/);
  // a map whose own data says __proto__ (JSON can carry it) is data, nothing more
  const parsed = JSON.parse('{"o": {"__proto__": {"polluted": 1}}}');
  assert.equal(ev("o['__proto__']", parsed), { polluted: 1 });
  assert.is(ev('o.polluted', parsed), null);
  assert.is(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  // getters and functions inside values are not run or returned
  let ran = false;
  const sneaky = { m: Object.defineProperty({}, 'g', { enumerable: true, get: () => ((ran = true), 1) }), f: { fn: () => 1 } };
  assert.is(ev('sneaky.m.g', { sneaky }), null);
  assert.not.ok(ran, 'the getter did not run');
  assert.is(ev('sneaky.f.fn', { sneaky }), null);
  // a class instance (not a plain map) is not read
  fails('d.x', /cannot read the property "x" of an object/, { d: new Date() });
});

test('method calls and functions never run: an error at run time, refused at deploy with the FEEL (and JUEL) to write', () => {
  fails('amount.compareTo(5)', /amount\.compareTo\(\.\.\.\) is a method call or a function, which does not run here/);
  fails("execution.getVariable('x')", /method call/, { execution: { getVariable: () => 1 } });
  fails('claim.toString()', /method call/);
  fails('fn:length(status)', /fn:length/);

  const compare = juelProblem('amount.compareTo(5) > 0');
  assert.equal([compare?.syntax, compare?.feel, compare?.juel], [false, '=amount > 5', '${amount > 5}']);
  assert.match(compare!.problem, /calls the method amount\.compareTo\(\.\.\.\): JUEL method calls, functions and bean lookups do not run here/);
  const variable = juelProblem("execution.getVariable('reviewer')");
  assert.equal([variable?.feel, variable?.juel], ['=reviewer', '${reviewer}']);
  assert.match(variable!.problem, /write the variable name x/);
  const bean = juelProblem('myBean.check()');
  assert.equal([bean?.feel, bean?.juel], [null, null]);
  assert.match(bean!.problem, /calls the method myBean\.check\(\.\.\.\).*move the logic into a handler \(a service task\) or a decision/);
  const fn = juelProblem('count(items) > 1');
  assert.match(fn!.problem, /calls the function count/);
  assert.equal(juelProblem("name.toUpperCase() == 'A' && x.equals(y)")?.feel, '=upper case(name) = "A" and x = y');
  assert.is(juelProblem("execution.processBusinessKey")?.syntax, false, 'a bean property');
  assert.match(juelProblem('execution.processBusinessKey')!.problem, /a property of the engine's execution object/);
  assert.is(juelProblem('execution.processBusinessKey', { execution: ['processBusinessKey'] }), null, 'where the caller provides it');
  // the FEEL suggestions mean what the JUEL meant
  assert.is(evaluateFeel(compare!.feel!.slice(1), { amount: 6 }).value, true);
  assert.is(evaluateFeel(compare!.feel!.slice(1), { amount: 5 }).value, false);
});

test('deploy-time check: valid JUEL passes; FEEL-isms and text arithmetic are refused with where and why', () => {
  for (const ok of ['!approved', "status == 'ok'", "amount > 1000 && category ne 'travel'", 'empty documents', "a.b['c'][0] ? 1 : -2", 'x div 2 mod 3']) {
    assert.is(juelProblem(ok), null, ok);
  }
  const eq = juelProblem('status = "ok"')!;
  assert.is(eq.syntax, true);
  assert.match(eq.problem, /unexpected "=" at character 8; JUEL compares with == \(or eq\)/);
  assert.match(juelProblem('x in [1, 2]')!.problem, /"in" is FEEL/);
  assert.match(juelProblem('if a then 1 else 2')!.problem, /"if \.\.\. then \.\.\. else" is FEEL/);
  assert.match(juelProblem('amount >')!.problem, /it ends too early/);
  assert.match(juelProblem('')!.problem, /empty/);
  assert.match(juelProblem("'open")!.problem, /never closed/);
  assert.match(juelProblem('empty + 1')!.problem, /unexpected "\+"/, 'empty is a keyword, not a variable');
  assert.match(juelProblem('a # b')!.problem, /unexpected "#" at character 3/);
  const text = juelProblem('channel + "s"')!;
  assert.match(text.problem, /uses the text "s" in arithmetic/);
  assert.is(text.feel, '=channel + "s"');
});

test('one parser: the tree the deploy check reads is the one run; variables read', () => {
  assert.equal(parseJuel('a.b'), parseJuel('a.b'));
  assert.equal(juelVariables("amount > 1000 && claim.parts[i].cost > 0 || amount == 0"), ['amount', 'claim', 'i']);
  assert.equal(juelVariables('not valid ='), []);
});

test.run();
