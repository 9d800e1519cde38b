//! Nothing read from a Secret leaves the operator: a service's error text can echo what it was
//! sent (Entra's `AADSTS90002: Tenant '<value>' not found`, an STS message naming the role, a
//! transport error carrying the URL). Every such text passes [`Scrubber::scrub`], which replaces
//! each value the run read from a Secret with where it came from.

/// Values too short to be told from ordinary words are not scrubbed (and are refused where they
/// matter: a tenant or app ID is a GUID or a domain).
const MIN_SECRET_CHARS: usize = 4;

/// The values one run read from Secrets and files, each with a label saying where it came from
/// (`<tenantId from Secret hr-creds>`).
#[derive(Clone, Default)]
pub struct Scrubber {
    /// Longest first, so that a value containing another is replaced whole.
    values: Vec<(String, String)>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self.values.iter().map(|(_, l)| l.as_str()).collect();
        f.debug_struct("Scrubber").field("labels", &labels).finish()
    }
}

impl Scrubber {
    /// Remembers `value`, to be replaced by `<{what}>` (e.g. `tenantId from Secret hr-creds`).
    pub fn add(&mut self, value: &str, what: impl std::fmt::Display) {
        let value = value.trim();
        if value.chars().count() < MIN_SECRET_CHARS || self.values.iter().any(|(v, _)| v == value) {
            return;
        }
        self.values.push((value.to_string(), format!("<{what}>")));
        self.values
            .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    }

    /// Another scrubber's values too.
    pub fn merge(&mut self, other: &Scrubber) {
        for (value, label) in &other.values {
            if !self.values.iter().any(|(v, _)| v == value) {
                self.values.push((value.clone(), label.clone()));
            }
        }
        self.values
            .sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
    }

    /// `text` with every remembered value, and its percent-encoded form (as it appears in a
    /// URL or a form), replaced by its label.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, label) in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), label);
            }
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            if encoded != *value && out.contains(encoded.as_str()) {
                out = out.replace(encoded.as_str(), label);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_replaced_by_where_they_came_from() {
        let mut s = Scrubber::default();
        s.add("hunter2.example.com", "tenantId from Secret hr-creds");
        s.add("xyz", "ignored: too short");
        let text = "AADSTS90002: Tenant 'hunter2.example.com' not found. xyz";
        assert_eq!(
            s.scrub(text),
            "AADSTS90002: Tenant '<tenantId from Secret hr-creds>' not found. xyz"
        );
    }

    #[test]
    fn encoded_and_nested_values_are_replaced() {
        let mut s = Scrubber::default();
        s.add("p@ss w0rd/secret", "appSecret from Secret a");
        s.add("w0rd", "other from Secret b");
        let text = "form client_secret=p%40ss+w0rd%2Fsecret and p@ss w0rd/secret";
        let out = s.scrub(text);
        assert!(!out.contains("p@ss") && !out.contains("p%40ss"), "{out}");
        assert_eq!(out.matches("<appSecret from Secret a>").count(), 2, "{out}");
    }
}
