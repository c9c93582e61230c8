/** What the common close codes mean, for people reading a report. */
export const CLOSE_MEANING: Record<string, string> = {
  '1000': 'normal',
  '1001': 'going away',
  '1005': 'no status',
  '1006': 'no close frame: socket dropped',
  '1008': 'policy violation',
  '1011': 'server error',
  '1012': 'service restart',
  '1013': 'try again later',
};
