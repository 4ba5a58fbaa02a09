-- Index changes proposed from the issue 3 benchmark (docs/benchmarks.md, "Directory and
-- consultations at scale"). Not a migration: the benchmark applies this file to its scale
-- database when BENCH_EXTRA_SQL names it, to measure the unchanged binary with these indexes.
-- The same SQL runs on SQLite and PostgreSQL.

-- Consultation list (すべて, newest first: ORDER BY c.received_at DESC, c.id DESC LIMIT 50):
-- without it both backends read and sort all 200,000 rows for every page.
CREATE INDEX consultations_received_at ON consultations (received_at, id);

-- Statistics of a period: every GROUP BY on consultations reads only this index (no table
-- lookups). It starts with received_on, so it replaces consultations_received.
CREATE INDEX consultations_period ON consultations (received_on, requester_type, channel, child_age_band, status, child_municipality_code6, minutes_spent);
DROP INDEX consultations_received;

-- Directory search: the order the results are shown in (available first, then by name), only
-- for current entries. A page of an unfiltered or common search walks this index and stops
-- after 20 rows instead of sorting every match.
CREATE INDEX resources_listing ON resources ((CASE availability WHEN 'available' THEN 0 WHEN 'limited' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END), search_text, id) WHERE retired_at IS NULL;

-- Two-click search (category + area + care): the category's entries with their place, without
-- a table lookup per entry. Replaces resources_category, which is its prefix.
DROP INDEX resources_category;
CREATE INDEX resources_category ON resources (category_id, retired_at, municipality_code6, id);
