-- 015 timescale mode: a write to the day rows notes its stale month as the owner (the
-- services have no grant on pts_stale_months; the trigger function runs on their behalf).
ALTER FUNCTION pts_note_stale_month() SECURITY DEFINER SET search_path = public, pg_temp;
