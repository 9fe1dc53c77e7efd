//! The shop in the shopper's language: chosen from `Accept-Language` on a first visit,
//! switched and remembered with a cookie, and used by the server for what it writes
//! (pages, money, refusals, card declines).

use serde_json::Value;
mod support;

async fn page(client: &reqwest::Client, url: String, accept_language: &str, cookie: Option<&str>) -> String {
    let mut request = client.get(url).header("accept-language", accept_language);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_visit_follows_accept_language_and_a_choice_is_remembered() {
    let (config, _, _db) = support::config(&[]);
    let shop = support::serve(config).await;
    let client = support::client();

    let french = page(&client, format!("{}/", shop.base), "fr-CA,fr;q=0.9,en;q=0.5", None).await;
    assert!(french.contains(r#"<html lang="fr""#), "{}", &french[..200]);
    assert!(french.contains("Ajouter au panier"));
    assert!(french.contains("18,00\u{a0}€"), "prices written the French way");
    let english = page(&client, format!("{}/", shop.base), "en-GB,en;q=0.9", None).await;
    assert!(english.contains(r#"<html lang="en""#));
    assert!(english.contains("Add to cart") && english.contains("€18.00"));
    let unsupported = page(&client, format!("{}/", shop.base), "de-DE,de;q=0.9", None).await;
    assert!(unsupported.contains(r#"<html lang="en""#), "the store's default language otherwise");

    // The switch: a plain form post sets the cookie, which wins over the header.
    let reply = client
        .post(format!("{}/api/locale/set", shop.base))
        .header("accept", "application/json")
        .form(&[("locale", "fr")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let cookie = reply.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("sf_locale=fr;") && cookie.contains("Max-Age=31536000"), "{cookie}");
    let chosen = page(&client, format!("{}/cart", shop.base), "en-US,en;q=0.9", Some("sf_locale=fr")).await;
    assert!(chosen.contains(r#"<html lang="fr""#) && chosen.contains("Votre panier"));
    let refused = client.post(format!("{}/api/locale/set", shop.base)).form(&[("locale", "klingon")]).send().await.unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_card_declines_are_written_in_the_shoppers_language() {
    let (config, _, _db) = support::config(&[]);
    let shop = support::serve(config).await;
    let stripe = shop.stripe.clone().unwrap();
    let shopper = support::shopper();
    let post = |endpoint: &str, form: Vec<(&'static str, String)>| {
        shopper.post(format!("{}/api/{endpoint}", shop.base)).header("accept-language", "fr-FR,fr;q=0.9").form(&form).send()
    };

    let too_many = post("cart/add", vec![("product_id", "ceramic-mug".into()), ("quantity", "500".into())]).await.unwrap();
    assert_eq!(too_many.status(), 400);
    assert_eq!(too_many.json::<Value>().await.unwrap()["Invalid"], "Choisissez une quantité de 1 à 99.");
    let added = post("cart/add", vec![("product_id", "ceramic-mug".into()), ("quantity", "1".into())]).await.unwrap();
    assert_eq!(added.status(), 200);
    let wrong_code = post("cart/discount", vec![("code", "NOPE".into())]).await.unwrap();
    assert_eq!(wrong_code.json::<Value>().await.unwrap()["Invalid"], "Ce code de réduction n'est pas valable.");

    for (card, french) in [
        ("pm_card_chargeDeclined", "Votre carte a été refusée."),
        ("pm_card_chargeDeclinedInsufficientFunds", "Votre carte n'est pas suffisamment approvisionnée."),
        ("pm_card_chargeDeclinedExpiredCard", "Votre carte a expiré."),
    ] {
        let token = support::test_token(&shopper, &stripe, card).await;
        let declined = post("checkout/confirm", vec![("confirmation_token", token)]).await.unwrap();
        assert_eq!(declined.status(), 402);
        let error: storefront::error::AppError = declined.json().await.unwrap();
        assert_eq!(error.message(storefront::i18n::Locale::Fr), french, "{card}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_whose_default_language_is_french_speaks_it_to_unknown_browsers() {
    let (config, _, _db) = support::config(&[("STORE_DEFAULT_LOCALE", "fr")]);
    let shop = support::serve(config).await;
    let client = support::client();
    let unsupported = page(&client, format!("{}/", shop.base), "de-DE,de;q=0.9", None).await;
    assert!(unsupported.contains(r#"<html lang="fr""#), "{}", &unsupported[..200]);
    assert!(unsupported.contains("Ajouter au panier"));
    // What the server writes follows it too.
    let reply = client
        .post(format!("{}/api/cart/add", shop.base))
        .header("accept-language", "de-DE")
        .form(&[("product_id", "no-such-thing"), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let error: Value = reply.json().await.unwrap();
    assert!(error.to_string().contains("Ce produit n'est pas"), "written in French: {error}");
    let english = page(&client, format!("{}/", shop.base), "en-GB,en;q=0.9", None).await;
    assert!(english.contains(r#"<html lang="en""#), "a browser that asks for English gets it");
}
