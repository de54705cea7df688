// Unknown columns of a size series CSV are named, with the file and the known columns.
import { describe, expect, it } from '@jest/globals';
import { parseSeriesCsv, SERIES_CSV_COLUMNS } from './index.js';

describe('parseSeriesCsv: unknown columns', () => {
  const csv = 'patient_id,day,size,rt_end,notes\na,0,1,40,x\na,10,2,40,y\n';

  it('refuses them by default, naming each column, the file and the expected columns', () => {
    expect(() => parseSeriesCsv(csv, {}, 'sizes.csv')).toThrow(
      "sizes.csv has unknown column(s) 'rt_end', 'notes'; the columns are patient_id, day, size and optionally slice_id, rt_end_day, rt_start_day: rename or remove the column(s)",
    );
  });

  it("warns through onWarning with 'warn' and reads the known columns", () => {
    const warnings: string[] = [];
    const s = parseSeriesCsv(csv, { unknownColumns: 'warn', onWarning: (m) => warnings.push(m) }, 'sizes.csv');
    expect(warnings).toEqual([expect.stringMatching(/^sizes\.csv has unknown column\(s\) 'rt_end', 'notes'; .*; ignored$/)]);
    expect(s).toHaveLength(1);
    expect(s[0]!.sizes).toEqual([1, 2]);
    // 'rt_end' is not 'rt_end_day': no RT date was read
    expect(s[0]!.context).toEqual({});
  });

  it("reads on silently with 'ignore'; known optional columns (any case) are not unknown", () => {
    expect(parseSeriesCsv(csv, { unknownColumns: 'ignore' })).toHaveLength(1);
    expect(parseSeriesCsv('Patient_ID,DAY,size,slice_id,rt_end_day,rt_start_day\na,0,1,80,40,\n')[0]!.context).toEqual({ rtEnd: 40 });
    expect([...SERIES_CSV_COLUMNS.required, ...SERIES_CSV_COLUMNS.optional]).toEqual(['patient_id', 'day', 'size', 'slice_id', 'rt_end_day', 'rt_start_day']);
    expect(() => parseSeriesCsv(csv, { unknownColumns: 'loud' as never })).toThrow(/'options.unknownColumns' passed to 'parseSeriesCsv'/);
  });
});
