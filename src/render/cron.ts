/**
 * When a Kubernetes CronJob schedule fires, as the CronJob controller reads it (robfig/cron's
 * standard five fields and macros): used to know how long a backup may be due at most, for the
 * backup-age alert. A pure calculator over wall-clock minutes; time zones shift every run alike,
 * and a daylight-saving change moves one run by an hour at most.
 */

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** One field's values, and whether it is unrestricted (`*` or `?` without a step). */
interface Field {
  readonly values: ReadonlySet<number>;
  readonly star: boolean;
}

function field(text: string, min: number, max: number, names?: string[]): Field {
  const values = new Set<number>();
  let star = false;
  const value = (token: string): number => {
    if (/^\d+$/.test(token)) return Number(token);
    const i = names?.indexOf(token.toLowerCase()) ?? -1;
    if (i < 0) throw new Error(`cron: "${token}" is not a number${names ? ' or name' : ''}`);
    return i + (min === 1 ? 1 : 0);
  };
  for (const part of text.split(',')) {
    const m = /^(\*|\?|[^/-]+(?:-[^/-]+)?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new Error(`cron: "${part}" is not a number, range, list or step`);
    const step = m[2] !== undefined ? Number(m[2]) : 1;
    if (step < 1) throw new Error(`cron: step below 1 in "${part}"`);
    let lo: number;
    let hi: number;
    if (m[1] === '*' || m[1] === '?') {
      [lo, hi] = [min, max];
      if (step === 1) star = true;
    } else {
      const bounds = m[1].split('-').map(value);
      lo = bounds[0];
      // "N/step" runs from N to the field's end.
      hi = bounds.length === 2 ? bounds[1] : m[2] !== undefined ? max : lo;
    }
    if (lo < min || hi > max || lo > hi) throw new Error(`cron: "${part}" is outside ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
}

/** A parsed schedule. */
interface Schedule {
  readonly minute: Field;
  readonly hour: Field;
  readonly dom: Field;
  readonly month: Field;
  readonly dow: Field;
}

function parse(expression: string): Schedule {
  const expr = MACROS[expression.trim()] ?? expression.trim();
  const f = expr.split(/\s+/);
  if (f.length !== 5) throw new Error(`cron: "${expression}" needs 5 fields`);
  const dow = field(f[4], 0, 7, DAYS);
  // 7 is Sunday too.
  const days = new Set([...dow.values].map((d) => d % 7));
  return {
    minute: field(f[0], 0, 59),
    hour: field(f[1], 0, 23),
    dom: field(f[2], 1, 31),
    month: field(f[3], 1, 12, MONTHS),
    dow: { values: days, star: dow.star },
  };
}

/** Whether the schedule runs on this (UTC-as-wall-clock) day: day of month or week as cron ORs them. */
function runsOn(s: Schedule, day: Date): boolean {
  if (!s.month.values.has(day.getUTCMonth() + 1)) return false;
  const dom = s.dom.values.has(day.getUTCDate());
  const dow = s.dow.values.has(day.getUTCDay());
  return s.dom.star || s.dow.star ? dom && dow : dom || dow;
}

const DAY_MS = 86_400_000;
/** The span searched: four years from a Monday, one leap day in it. */
const FROM = Date.UTC(2024, 0, 1);
const SPAN_DAYS = 4 * 365 + 1;

/** The minutes of the day (0-1439) at which any of the schedules run on `day` (wall clock, as UTC). */
function runsOnDay(schedules: readonly Schedule[], day: Date): boolean[] {
  const minutes = new Array<boolean>(1440).fill(false);
  for (const s of schedules) {
    if (!runsOn(s, day)) continue;
    for (const h of s.hour.values) for (const m of s.minute.values) minutes[h * 60 + m] = true;
  }
  return minutes;
}

/** The times ("HH:MM") at which any of the schedules run on a date ("YYYY-MM-DD"). */
export function cronRunsOn(expressions: readonly string[], date: string): string[] {
  const minutes = runsOnDay(expressions.map(parse), new Date(`${date}T00:00:00Z`));
  const pad = (n: number) => String(n).padStart(2, '0');
  return minutes.flatMap((run, m) => (run ? [`${pad(Math.floor(m / 60))}:${pad(m % 60)}`] : []));
}

/**
 * The longest time between two consecutive runs of any of the schedules together, in seconds;
 * undefined when they run less than twice in four years (Feb 30th, say).
 */
export function longestCronGapSeconds(expressions: readonly string[]): number | undefined {
  const schedules = expressions.map(parse);
  let last: number | undefined;
  let gap = 0;
  let runs = 0;
  for (let d = 0; d < SPAN_DAYS; d++) {
    const minutes = runsOnDay(schedules, new Date(FROM + d * DAY_MS));
    for (let m = 0; m < 1440; m++) {
      if (!minutes[m]) continue;
      const at = d * 1440 + m;
      if (last !== undefined) gap = Math.max(gap, at - last);
      last = at;
      runs++;
    }
  }
  return runs < 2 ? undefined : gap * 60;
}
