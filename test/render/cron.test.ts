/**
 * The CronJob schedule calculator (src/render/cron.ts): when a schedule runs, as the CronJob
 * controller reads it, and the longest gap between runs of several schedules together.
 */
import { cronProblem } from '../../src/render/backup-rules';
import { cronRunsOn, longestCronGapSeconds } from '../../src/render/cron';

const HOUR = 3600;

describe('cronRunsOn', () => {
  test('lists, ranges, steps and "N/step" (from N to the field\'s end)', () => {
    expect(cronRunsOn(['5/20 9-10 * * *'], '2025-03-04')).toEqual(['09:05', '09:25', '09:45', '10:05', '10:25', '10:45']);
    expect(cronRunsOn(['0,30 */8 * * *'], '2025-03-04')).toEqual(['00:00', '00:30', '08:00', '08:30', '16:00', '16:30']);
  });

  test('day of month and day of week: either, when both are restricted; both, when one is *', () => {
    // 2025-03-03 is a Monday, 2025-03-04 a Tuesday.
    expect(cronRunsOn(['0 0 1 * 1'], '2025-03-03')).toEqual(['00:00']);
    expect(cronRunsOn(['0 0 1 * 1'], '2025-03-04')).toEqual([]);
    expect(cronRunsOn(['0 0 1 * 1'], '2025-03-01')).toEqual(['00:00']);
    expect(cronRunsOn(['0 0 * * 1'], '2025-03-01')).toEqual([]);
    // */2 in the day of month is a restriction (the controller's cron library reads it so)
    expect(cronRunsOn(['0 0 */2 * 2'], '2025-03-04')).toEqual(['00:00']);
  });

  test('names, Sunday as 0 or 7, macros', () => {
    // 2025-03-02 is a Sunday.
    expect(cronRunsOn(['0 3 * * sun'], '2025-03-02')).toEqual(['03:00']);
    expect(cronRunsOn(['0 3 * * 7'], '2025-03-02')).toEqual(['03:00']);
    expect(cronRunsOn(['0 3 * mar-apr MON-FRI'], '2025-03-04')).toEqual(['03:00']);
    expect(cronRunsOn(['@weekly'], '2025-03-02')).toEqual(['00:00']);
    expect(cronRunsOn(['@hourly'], '2025-03-02')).toHaveLength(24);
  });
});

describe('longestCronGapSeconds', () => {
  test('the library\'s default schedules: a full backup on Sundays and incremental ones the other days', () => {
    expect(longestCronGapSeconds(['0 1 * * 0', '0 1 * * 1-6'])).toBe(24 * HOUR);
    expect(longestCronGapSeconds(['0 1 * * 0'])).toBe(7 * 24 * HOUR);
  });

  test('the production example\'s S3 schedules: the union, not each', () => {
    expect(longestCronGapSeconds(['0 2 * * 0', '0 2 * * 3', '0 */6 * * *'])).toBe(6 * HOUR);
  });

  test('irregular schedules: the longest gap, across months and a leap year', () => {
    expect(longestCronGapSeconds(['0 0 1 * *'])).toBe(31 * 24 * HOUR);
    expect(longestCronGapSeconds(['@yearly'])).toBe(366 * 24 * HOUR);
    expect(longestCronGapSeconds(['0 22 * * 1-5'])).toBe(72 * HOUR);
  });

  test('a schedule that runs less than twice in four years has no gap', () => {
    expect(longestCronGapSeconds(['0 0 30 2 *'])).toBeUndefined();
  });

  test('every schedule cronProblem accepts is read (no error), and the gap is at least a minute', () => {
    for (const expr of ['* * * * *', '*/5 * * * *', '0 0 * * *', '15 3 1-7 * 1', '0 0 ? * 0', '0 12 * jan,jul *', '@daily', '@midnight', '@annually', '@monthly']) {
      expect([expr, cronProblem(expr)]).toEqual([expr, undefined]);
      expect(longestCronGapSeconds([expr])).toBeGreaterThanOrEqual(60);
    }
  });
});
