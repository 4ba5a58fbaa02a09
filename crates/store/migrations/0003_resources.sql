-- The directory of social resources and consultation windows (社会資源・相談窓口), after Open
-- Referral HSDS 3.0: a provider organisation offers a service at a location, for service areas.

CREATE TABLE resource_categories (
    id TEXT PRIMARY KEY,
    -- Stable code of a seeded category (e.g. municipal_window), so that pages and importers
    -- find it after an administrator renames it; NULL for categories added later.
    code TEXT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    sort_order BIGINT NOT NULL DEFAULT 0,
    retired_at TEXT NULL
);

CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    -- Stable id from an imported file: re-importing updates instead of duplicating.
    external_id TEXT NULL UNIQUE,
    category_id TEXT NOT NULL REFERENCES resource_categories (id),
    provider_name TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    municipality_code6 TEXT NULL REFERENCES municipalities (code6),
    postal_code TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    fax TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    website TEXT NOT NULL DEFAULT '',
    hours TEXT NOT NULL DEFAULT '',
    age_min BIGINT NULL,
    age_max BIGINT NULL,
    eligibility_note TEXT NOT NULL DEFAULT '',
    fees_note TEXT NOT NULL DEFAULT '',
    capacity_note TEXT NOT NULL DEFAULT '',
    -- available | limited | full | unknown (空き状況)
    availability TEXT NOT NULL DEFAULT 'unknown',
    availability_confirmed_on TEXT NULL,
    availability_confirmed_by TEXT NULL REFERENCES users (id),
    -- Never shown publicly.
    internal_note TEXT NOT NULL DEFAULT '',
    direct_line TEXT NOT NULL DEFAULT '',
    is_public BIGINT NOT NULL DEFAULT 1,
    last_verified_on TEXT NULL,
    -- Normalised text of the searchable fields (NFKC-like width folding, katakana as hiragana).
    search_text TEXT NOT NULL DEFAULT '',
    retired_at TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX resources_category ON resources (category_id, retired_at);
CREATE INDEX resources_municipality ON resources (municipality_code6);
CREATE INDEX resources_verified ON resources (last_verified_on);

-- Municipalities a resource serves (an area is stored as its municipalities).
CREATE TABLE resource_service_areas (
    resource_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    municipality_code6 TEXT NOT NULL REFERENCES municipalities (code6),
    PRIMARY KEY (resource_id, municipality_code6)
);
CREATE INDEX resource_service_areas_municipality ON resource_service_areas (municipality_code6, resource_id);

-- Kinds of medical care a resource can take, with a note per kind.
CREATE TABLE resource_care_types (
    resource_id TEXT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    care_type_code TEXT NOT NULL REFERENCES care_types (code),
    note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (resource_id, care_type_code)
);
CREATE INDEX resource_care_types_code ON resource_care_types (care_type_code, resource_id);
