/**
 * The rule for a meter's key, here below every domain because several name meters: the meters
 * themselves, the events sent to them, and usage alerts, which may not read metering/ but must
 * accept exactly the keys a meter can have.
 */
export const METER_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const METER_KEY_RULE = 'must be letters, digits and _ . : - (at most 128), starting with a letter or digit';
