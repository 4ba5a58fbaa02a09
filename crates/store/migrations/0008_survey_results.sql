-- The survey roll-up (状況把握調査の集計): the figures are read live from the approved responses.

-- A prefecture's rounds over the 年度, so that its roll-up reaches its own responses without
-- reading every prefecture's answers.
CREATE INDEX survey_rounds_prefecture ON survey_rounds (prefecture_code, fiscal_year);

-- Who was asked and who is approved in each round, from the index alone (the rows carry the
-- answers). It starts with the columns of survey_responses_status, which it replaces.
CREATE INDEX survey_responses_round_status ON survey_responses (round_id, status, municipality_code6);
DROP INDEX survey_responses_status;
