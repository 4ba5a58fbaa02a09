-- Indexes for the directory and the consultation desk at the scale of a prefecture's center
-- (tens of thousands of resources, hundreds of thousands of consultations). Measured with
-- bench/directory_consultations.sh; figures in docs/benchmarks.md.

-- Consultation list, newest first (ORDER BY received_at DESC, id DESC LIMIT 50): a page reads
-- its rows from the end of this index instead of sorting every consultation.
CREATE INDEX consultations_received_at ON consultations (received_at, id);

-- Statistics of a period (相談の統計): every count reads only this index, never the table. It
-- starts with received_on, so it also serves the date filters of the list and replaces
-- consultations_received.
CREATE INDEX consultations_period ON consultations (received_on, channel, requester_type, child_age_band, status, child_municipality_code6, minutes_spent, id);
DROP INDEX consultations_received;

-- The desk's work lists and their counts (自分の対応中, 今日までのフォロー): only consultations
-- not closed, a few thousand of however many there are.
CREATE INDEX consultations_open_handler ON consultations (handled_by, status) WHERE status <> 'closed';
CREATE INDEX consultations_open_follow_up ON consultations (follow_up_on) WHERE status <> 'closed';

-- Directory order: places that may take a child first, then by name (resources::ORDER_INDEXED).
-- The first 64 characters of the search key, not all of it: a long description would exceed
-- PostgreSQL's limit on a B-tree entry. A page walks this index and stops after its rows; with
-- retired_at and is_public it also counts the current or public entries.
CREATE INDEX resources_listing ON resources ((CASE availability WHEN 'available' THEN 0 WHEN 'limited' THEN 1 WHEN 'unknown' THEN 2 ELSE 3 END), substr(search_text, 1, 64), retired_at, is_public);

-- Category, area and care search, and counts per category: answered from the index without
-- reading the entries. Replaces resources_category, which is its prefix.
DROP INDEX resources_category;
CREATE INDEX resources_category ON resources (category_id, retired_at, is_public, municipality_code6, id);
