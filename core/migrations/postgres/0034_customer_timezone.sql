-- A customer's IANA time zone: its daily, weekly and monthly entitlement windows begin at
-- midnight there (entitlements/windows.ts). NULL: UTC, as before.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS timezone text;
