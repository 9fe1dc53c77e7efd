//! A shipping address as its reader expects it: one line each, the town's line in the
//! order its country writes it, and the country by its name in the reader's language
//! (Stripe gives its ISO 3166-1 code).

mod countries;

use crate::i18n::Locale;
use crate::stripe::types::Shipping;

/// The country that `code` names, in `locale`; a code the table does not hold, as it is.
pub fn country_name(code: &str, locale: Locale) -> &str {
    let Ok(index) = countries::COUNTRIES.binary_search_by(|(known, _, _)| (*known).cmp(code)) else { return code };
    let (_, english, french) = countries::COUNTRIES[index];
    match locale {
        Locale::En => english,
        Locale::Fr => french,
    }
}

/// The recorded shipping address (Stripe's `shipping` as JSON), one line each: name,
/// street lines, the town's lines, country, phone. Nothing when it cannot be read.
pub fn lines(json: &str, locale: Locale) -> Vec<String> {
    let Ok(Shipping { name, phone, address }) = serde_json::from_str::<Shipping>(json) else { return Vec::new() };
    let country = address.country.as_deref().map(str::trim).unwrap_or_default().to_ascii_uppercase();
    let [city, state, postal_code] = [address.city, address.state, address.postal_code].map(Option::unwrap_or_default);
    let joined =
        |parts: &[&str], between: &str| parts.iter().filter(|part| !part.trim().is_empty()).copied().collect::<Vec<_>>().join(between);
    let town = match country.as_str() {
        // "San Francisco, CA 94107"
        "US" => vec![joined(&[&city, &joined(&[&state, &postal_code], " ")], ", ")],
        // "Toronto ON M5V 3L9", "Sydney NSW 2000"
        "CA" | "AU" => vec![joined(&[&city, &state, &postal_code], " ")],
        // The town, then the postcode on a line of its own.
        "GB" | "GG" | "IE" | "IM" | "JE" => vec![joined(&[&city, &state], ", "), postal_code],
        // "75001 Paris", then a region where one was given.
        _ => vec![joined(&[&postal_code, &city], " "), state],
    };
    let country = (!country.is_empty()).then(|| country_name(&country, locale).to_owned());
    [Some(name), address.line1, address.line2]
        .into_iter()
        .flatten()
        .chain(town)
        .chain(country)
        .chain(phone)
        .filter(|line| !line.trim().is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(fields: &str) -> String {
        format!(r#"{{"name":"Jenny Rosen","address":{{{fields}}}}}"#)
    }

    #[test]
    fn each_country_writes_its_town_line_its_own_way() {
        let paris = address(r#""line1":"1 Rue de Rivoli","city":"Paris","postal_code":"75001","country":"FR""#);
        assert_eq!(lines(&paris, Locale::En), ["Jenny Rosen", "1 Rue de Rivoli", "75001 Paris", "France"]);
        let san_francisco =
            address(r#""line1":"354 Oyster Point Blvd","city":"San Francisco","state":"CA","postal_code":"94107","country":"US""#);
        assert_eq!(lines(&san_francisco, Locale::Fr), ["Jenny Rosen", "354 Oyster Point Blvd", "San Francisco, CA 94107", "États-Unis"]);
        let toronto =
            address(r#""line1":"1 Front St W","line2":"Suite 2","city":"Toronto","state":"ON","postal_code":"M5V 3L9","country":"CA""#);
        assert_eq!(lines(&toronto, Locale::En), ["Jenny Rosen", "1 Front St W", "Suite 2", "Toronto ON M5V 3L9", "Canada"]);
        let london = address(r#""line1":"10 Downing St","city":"London","postal_code":"SW1A 2AA","country":"GB""#);
        assert_eq!(lines(&london, Locale::Fr), ["Jenny Rosen", "10 Downing St", "London", "SW1A 2AA", "Royaume-Uni"]);
        let rome = address(r#""line1":"Via del Corso 1","city":"Roma","state":"RM","postal_code":"00186","country":"it""#);
        assert_eq!(lines(&rome, Locale::En), ["Jenny Rosen", "Via del Corso 1", "00186 Roma", "RM", "Italy"]);
    }

    #[test]
    fn what_is_missing_leaves_no_gap_and_the_phone_comes_last() {
        let no_state = address(r#""city":"New York","postal_code":"10001","country":"US""#);
        assert_eq!(lines(&no_state, Locale::En), ["Jenny Rosen", "New York, 10001", "United States"]);
        let with_phone = r#"{"name":"Jenny Rosen","phone":"+33 1 23 45 67 89","address":{"city":"Lyon","country":"FR"}}"#;
        assert_eq!(lines(with_phone, Locale::Fr), ["Jenny Rosen", "Lyon", "France", "+33 1 23 45 67 89"]);
        assert_eq!(lines(&address(r#""country":"QQ""#), Locale::En), ["Jenny Rosen", "QQ"]);
        assert!(lines("not json", Locale::En).is_empty());
    }

    #[test]
    fn countries_are_named_in_the_readers_language() {
        assert_eq!(country_name("DE", Locale::En), "Germany");
        assert_eq!(country_name("DE", Locale::Fr), "Allemagne");
        assert_eq!(country_name("XK", Locale::Fr), "Kosovo");
        assert_eq!(country_name("ZZ", Locale::En), "ZZ");
        // The lookup is a binary search: the table must stay in order, each code once.
        assert!(countries::COUNTRIES.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }
}
