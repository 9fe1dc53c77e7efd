//! Stripe's request encoding: `application/x-www-form-urlencoded` with bracket keys
//! (`metadata[order_id]=42`, `expand[]=customer`, `expand[0]=customer`,
//! `a[b][c]=d`), decoded into a tree, plus the checks every endpoint makes on it
//! (unknown and missing parameters, types) with Stripe's error for each.

use crate::error::ApiError;
use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;

/// One decoded value: a string, a nested object, or a list (from `[]` keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Str(String),
    Map(BTreeMap<String, Param>),
    List(Vec<Param>),
}

/// The decoded parameters of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub BTreeMap<String, Param>);

/// Why a body is not a valid form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid form key `{0}`")]
pub struct FormError(pub String);

fn decode(part: &str) -> String {
    let spaced = part.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Splits `a[b][c]` into `["a", "b", "c"]` (`[]` gives an empty segment).
fn segments(key: &str) -> Result<Vec<String>, FormError> {
    let bad = || FormError(key.to_owned());
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() || head.contains(']') {
        return Err(bad());
    }
    let mut out = vec![head.to_owned()];
    while !rest.is_empty() {
        if !rest.starts_with('[') {
            return Err(bad());
        }
        let end = rest.find(']').ok_or_else(bad)?;
        out.push(rest[1..end].to_owned());
        rest = &rest[end + 1..];
    }
    Ok(out)
}

fn insert(map: &mut BTreeMap<String, Param>, path: &[String], value: String, key: &str) -> Result<(), FormError> {
    let bad = || FormError(key.to_owned());
    let (first, rest) = path.split_first().ok_or_else(bad)?;
    if rest.is_empty() {
        map.insert(first.clone(), Param::Str(value));
        return Ok(());
    }
    if rest[0].is_empty() {
        // `name[]=v` appends to a list of strings.
        if rest.len() != 1 {
            return Err(bad());
        }
        let entry = map.entry(first.clone()).or_insert_with(|| Param::List(Vec::new()));
        match entry {
            Param::List(items) => items.push(Param::Str(value)),
            _ => return Err(bad()),
        }
        return Ok(());
    }
    let entry = map.entry(first.clone()).or_insert_with(|| Param::Map(BTreeMap::new()));
    match entry {
        Param::Map(inner) => insert(inner, rest, value, key),
        _ => Err(bad()),
    }
}

impl Param {
    /// As JSON: strings, objects and arrays, as the form said them.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Param::Str(value) => serde_json::Value::String(value.clone()),
            Param::Map(map) => map.iter().map(|(key, value)| (key.clone(), value.to_json())).collect(),
            Param::List(items) => items.iter().map(Param::to_json).collect(),
        }
    }
}

impl Params {
    /// As JSON (see [`Param::to_json`]).
    pub fn to_json(&self) -> serde_json::Value {
        self.0.iter().map(|(key, value)| (key.clone(), value.to_json())).collect()
    }

    /// Decodes a form body or a query string.
    pub fn parse(body: &str) -> Result<Params, FormError> {
        let mut map = BTreeMap::new();
        for pair in body.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key);
            let path = segments(&key)?;
            insert(&mut map, &path, decode(value), &key)?;
        }
        Ok(Params(map))
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.get(name)
    }

    /// A string parameter, if present.
    pub fn str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Param::Str(value)) => Ok(Some(value)),
            Some(_) => Err(ApiError::invalid_param(name, format!("Invalid string: {name} must be a string"))),
        }
    }

    /// A string parameter that must be there.
    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        match self.str(name)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(ApiError::missing_param(name)),
        }
    }

    /// An integer parameter, if present.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.str(name)?
            .map(|value| {
                value
                    .parse::<i64>()
                    .map_err(|_| ApiError::invalid_param(name, format!("Invalid integer: {value}")).with_code("parameter_invalid_integer"))
            })
            .transpose()
    }

    /// A boolean parameter (`true`/`false`), if present.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.str(name)?
            .map(|value| match value {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(ApiError::invalid_param(name, format!("Invalid boolean: {other}"))),
            })
            .transpose()
    }

    /// A nested object parameter, as `Params` of its own.
    pub fn object(&self, name: &str) -> Result<Option<Params>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Param::Map(map)) => Ok(Some(Params(map.clone()))),
            Some(Param::Str(empty)) if empty.is_empty() => Ok(None),
            Some(_) => Err(ApiError::invalid_param(name, format!("Invalid object: {name} must be a hash"))),
        }
    }

    /// A list of strings, written either `name[]=a&name[]=b` or `name[0]=a&name[1]=b`.
    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let invalid = || ApiError::invalid_param(name, format!("Invalid array: {name} must be an array of strings"));
        match self.0.get(name) {
            None => Ok(Vec::new()),
            Some(Param::List(items)) => items
                .iter()
                .map(|item| match item {
                    Param::Str(value) => Ok(value.clone()),
                    _ => Err(invalid()),
                })
                .collect(),
            Some(Param::Map(map)) => {
                let mut indexed = map
                    .iter()
                    .map(|(index, item)| match (index.parse::<usize>(), item) {
                        (Ok(index), Param::Str(value)) => Ok((index, value.clone())),
                        _ => Err(invalid()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                indexed.sort_by_key(|(index, _)| *index);
                Ok(indexed.into_iter().map(|(_, value)| value).collect())
            }
            Some(Param::Str(value)) if value.is_empty() => Ok(Vec::new()),
            Some(Param::Str(_)) => Err(invalid()),
        }
    }

    /// A `metadata`-style map of string to string.
    pub fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        match self.0.get(name) {
            None => Ok(BTreeMap::new()),
            Some(Param::Str(value)) if value.is_empty() => Ok(BTreeMap::new()),
            Some(Param::Map(map)) => map
                .iter()
                .map(|(key, value)| match value {
                    Param::Str(value) => Ok((key.clone(), value.clone())),
                    _ => Err(ApiError::invalid_param(name, format!("Invalid {name}[{key}]: must be a string"))),
                })
                .collect(),
            Some(_) => Err(ApiError::invalid_param(name, format!("Invalid object: {name} must be a hash"))),
        }
    }

    /// Refuses any parameter not in `allowed`. Nested names are written with dots
    /// (`automatic_payment_methods.enabled`); `name.*` allows any key below `name`, and
    /// `name.#.x` is `x` of any element of an array of hashes (`items[0][x]`).
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        fn walk(path: &str, shown: &str, param: &Param, allowed: &[&str]) -> Result<(), ApiError> {
            let child_prefix = format!("{path}.");
            if allowed.iter().any(|a| a.strip_suffix(".*") == Some(path)) {
                return Ok(());
            }
            let has_children = allowed.iter().any(|a| a.starts_with(&child_prefix));
            match param {
                // An array of hashes (`items[0][price]`): `#` stands for any index.
                Param::Map(map) if has_children => map.iter().try_for_each(|(key, inner)| {
                    let segment = if key.parse::<usize>().is_ok() { "#" } else { key.as_str() };
                    walk(&format!("{path}.{segment}"), &format!("{shown}[{key}]"), inner, allowed)
                }),
                _ if allowed.contains(&path) => Ok(()),
                _ => Err(ApiError::unknown_param(shown)),
            }
        }
        self.0.iter().try_for_each(|(key, param)| walk(key, key, param, allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_keys_nest() {
        let params = Params::parse("amount=1099&metadata[order_id]=42&automatic_payment_methods[enabled]=true").unwrap();
        assert_eq!(params.int("amount").unwrap(), Some(1099));
        assert_eq!(params.string_map("metadata").unwrap().get("order_id").map(String::as_str), Some("42"));
        let apm = params.object("automatic_payment_methods").unwrap().unwrap();
        assert_eq!(apm.bool("enabled").unwrap(), Some(true));
    }

    #[test]
    fn lists_come_in_both_spellings() {
        let a = Params::parse("expand[]=customer&expand[]=payment_method").unwrap();
        let b = Params::parse("expand[1]=payment_method&expand[0]=customer").unwrap();
        assert_eq!(a.str_list("expand").unwrap(), b.str_list("expand").unwrap());
        assert_eq!(a.str_list("expand").unwrap(), vec!["customer", "payment_method"]);
    }

    #[test]
    fn values_are_percent_decoded() {
        let params = Params::parse("return_url=https%3A%2F%2Fshop.example%2Fdone%3Fa%3D1&name=Jane+Doe").unwrap();
        assert_eq!(params.str("return_url").unwrap(), Some("https://shop.example/done?a=1"));
        assert_eq!(params.str("name").unwrap(), Some("Jane Doe"));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for body in ["[a]=1", "a[b=1", "a]b=1", "a=1&a[b]=2"] {
            assert!(Params::parse(body).is_err(), "{body}");
        }
    }

    #[test]
    fn unknown_parameters_are_named_as_stripe_names_them() {
        let params = Params::parse("amount=1&automatic_payment_methods[enabled]=true&automatic_payment_methods[bogus]=1").unwrap();
        let error = params.only(&["amount", "automatic_payment_methods.enabled"]).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("automatic_payment_methods[bogus]"));
        let params = Params::parse("amount=1&metadata[anything]=x").unwrap();
        assert!(params.only(&["amount", "metadata.*"]).is_ok());
        assert!(params.only(&["amount"]).is_err());
    }
}
