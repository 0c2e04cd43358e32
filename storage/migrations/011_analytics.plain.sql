-- 011 analytics, plain PostgreSQL (ADR 0006): the monthly energy per meter under the name
-- Timescale mode gives its continuous aggregate's exact view; here the maintained table,
-- which the stream recomputes in the transaction that stores the readings, is exact already.
CREATE VIEW meter_month_energy_live AS
SELECT meter_id, month, energy_wh, days, flags FROM meter_month_energy;
COMMENT ON VIEW meter_month_energy_live IS
    'Energy per meter and local month (plain mode: the maintained table meter_month_energy).';
