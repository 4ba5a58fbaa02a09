-- The keyword index of consultations and resources (search_index.rs): GIN indexes of the grams
-- of each search key. search_grams computes them as tsunagu_domain::text::search_grams does:
-- every character, and every two adjacent characters within a word (words are separated by
-- one space). Its high cost keeps the planner on the index rather than computing grams row by
-- row.
CREATE FUNCTION search_grams(key TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000
AS $$
    SELECT COALESCE(array_agg(DISTINCT g), '{}')
    FROM regexp_split_to_table(key, ' ') AS w,
         LATERAL (
             SELECT substr(w, i, 1) AS g FROM generate_series(1, char_length(w)) AS i
             UNION ALL
             SELECT substr(w, i, 2) FROM generate_series(1, char_length(w) - 1) AS i
         ) AS grams
    WHERE g <> ''
$$;
CREATE INDEX consultations_search_grams ON consultations USING gin (search_grams(search_text));
CREATE INDEX resources_search_grams ON resources USING gin (search_grams(search_text));
