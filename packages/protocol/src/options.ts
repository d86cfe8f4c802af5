/**
 * One way to check the options of every public constructor of the packages (createIdempotency,
 * the stores, the key issuer, the client and its links): unknown keys are refused (with the known
 * key it most likely meant), each value is checked by its rule, and every problem is named in one
 * `TypeError`, so a misspelt option never passes without a word.
 */

/** Says what is wrong with a value (the words after `option "name"`), or `undefined` when it is fine. */
export type OptionRule = (value: unknown) => string | undefined;

/** The rules of an options object, one per known option; a rule is only asked about a value that is given. */
export type OptionRules<T> = { readonly [K in keyof T]-?: OptionRule };

/**
 * Checks `options` by `rules` and returns them typed. `more` may add problems that involve several
 * options (`bad(name, problem)`); it runs only on options whose own rules passed.
 *
 * @example
 * const given = checkOptions('new MemoryStore', options, { sweepIntervalMs: wholeNumber({ min: 1, unit: 'ms' }) });
 */
export function checkOptions<T extends object>(
  owner: string,
  options: T | undefined,
  rules: OptionRules<T>,
  more?: (given: T, bad: (name: keyof T & string, problem: string) => void) => void,
): T {
  if (options === undefined) options = {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${owner}(options): options must be an object.`);
  }
  const problems: string[] = [];
  const known = Object.keys(rules);
  for (const name of Object.keys(options)) {
    if (Object.hasOwn(rules, name)) continue;
    const meant = likelyMeant(name, known);
    problems.push(`unknown option "${name}"${meant ? ` (did you mean "${meant}"?)` : ''}`);
  }
  let rulesPassed = true;
  for (const name of known) {
    const value = (options as Record<string, unknown>)[name];
    const rule = (rules as Record<string, OptionRule & { required?: string }>)[name]!;
    if (value === undefined) {
      if (rule.required !== undefined) {
        problems.push(`option "${name}" ${rule.required}`);
        rulesPassed = false;
      }
      continue;
    }
    const problem = rule(value);
    if (problem !== undefined) {
      problems.push(`option "${name}" ${problem}`);
      rulesPassed = false;
    }
  }
  if (more && rulesPassed) more(options, (name, problem) => problems.push(`option "${name}" ${problem}`));
  if (problems.length > 0) throw new TypeError(`${owner}: ${problems.join('; ')}.`);
  return options;
}

/** A rule that also refuses a missing value; `why` is the message then (after `option "name"`). */
export function required(rule: OptionRule, why: string): OptionRule & { required: string } {
  return Object.assign((value: unknown) => rule(value), { required: why });
}

/** A whole number from `min` (and up to `max`); `unit` names what it counts, for the message. */
export function wholeNumber({ min, max, unit }: { min: number; max?: number; unit?: string }): OptionRule {
  const what = `a whole number${unit ? ` of ${unit}` : ''}, ${min}${max === undefined ? ' or more' : ` to ${max}`}`;
  return (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min && (max === undefined || value <= max)
      ? undefined
      : `must be ${what} (got ${describe(value)})`;
}

/** A finite number above `above`. */
export function numberAbove(above: number, unit?: string): OptionRule {
  return (value) =>
    typeof value === 'number' && Number.isFinite(value) && value > above
      ? undefined
      : `must be a number${unit ? ` of ${unit}` : ''} above ${above} (got ${describe(value)})`;
}

/** One of the listed values. */
export function oneOf(values: readonly unknown[]): OptionRule {
  return (value) =>
    values.includes(value)
      ? undefined
      : `must be ${values.map((v) => JSON.stringify(v)).join(' or ')} (got ${describe(value)})`;
}

export const isBoolean: OptionRule = (value) => (typeof value === 'boolean' ? undefined : 'must be true or false');
export const isFunction: OptionRule = (value) => (typeof value === 'function' ? undefined : 'must be a function');
export const nonEmptyString: OptionRule = (value) =>
  typeof value === 'string' && value !== '' ? undefined : 'must be a non-empty string';
/** Any value: for options whose check needs the others, done in `more`. */
export const anything: OptionRule = () => undefined;

/** Every rule must pass; the first problem is named. */
export function allOf(...rules: OptionRule[]): OptionRule {
  return (value) => {
    for (const rule of rules) {
      const problem = rule(value);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeof value;
}

/** The known name a misspelt one most likely meant: same letters in another case, or at most two edits away. */
function likelyMeant(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameCase = known.find((candidate) => candidate.toLowerCase() === lower);
  if (sameCase) return sameCase;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
