//! Form input and form fields. Bodies are read as a list of pairs, so a missing or repeated
//! field never turns into a rejection the user cannot understand; each handler validates
//! and shows the form again with what was typed.

use axum::extract::{FromRequest, Request};
use tsunagu_domain::validation::FieldErrors;

use crate::error::AppError;

/// The largest form body (uploads have their own limits).
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// An `application/x-www-form-urlencoded` body.
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| AppError::TooLarge)?;
        Ok(FormData::parse(&bytes))
    }
}

impl FormData {
    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(bytes).into_owned().collect())
    }

    pub fn parse_str(s: &str) -> FormData {
        FormData::parse(s.as_bytes())
    }
}

/// One choice of a select or a group of checkboxes.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>, selected: bool) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
            selected,
        }
    }
}

/// A form field as `templates/_field.html` draws it.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub label: String,
    /// text, password, email, tel, number, date, textarea, select, checkboxes
    pub kind: &'static str,
    pub value: String,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
    pub hint: String,
    pub required: bool,
    pub autocomplete: &'static str,
    pub inputmode: &'static str,
}

impl Field {
    pub fn new(name: &'static str, label: impl Into<String>, kind: &'static str) -> Field {
        Field {
            name,
            label: label.into(),
            kind,
            value: String::new(),
            choices: Vec::new(),
            error: None,
            hint: String::new(),
            required: false,
            autocomplete: "off",
            inputmode: "",
        }
    }

    pub fn value(mut self, v: impl Into<String>) -> Field {
        self.value = v.into();
        self
    }

    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Field {
        self.hint = h.into();
        self
    }

    pub fn autocomplete(mut self, a: &'static str) -> Field {
        self.autocomplete = a;
        self
    }

    pub fn inputmode(mut self, m: &'static str) -> Field {
        self.inputmode = m;
        self
    }

    pub fn choices(mut self, c: Vec<Choice>) -> Field {
        self.choices = c;
        self
    }

    /// Takes this field's message from `errors`.
    pub fn errors(mut self, errors: &FieldErrors) -> Field {
        self.error = errors.get(self.name).map(str::to_string);
        self
    }

    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if !self.hint.is_empty() {
            ids.push(format!("{}-hint", self.name));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.name));
        }
        ids.join(" ")
    }
}

/// The error summary at the top of a form: (field id, message).
pub fn summary(errors: &FieldErrors) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|(f, m)| (f.to_string(), m.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_kept_and_missing_ones_are_empty() {
        let f = FormData::parse("role=viewer&role=system_admin&name=%E7%9B%9B%E5%B2%A1".as_bytes());
        assert_eq!(f.all("role"), ["viewer", "system_admin"]);
        assert_eq!(f.get("name"), "盛岡");
        assert_eq!(f.get("missing"), "");
        assert!(!f.has("missing"));
    }
}
