//! The pages Stripe hosts for a customer, drawn from the account as it is now: a
//! charge's receipt (`receipt_url`), and a finalized invoice's page
//! (`hosted_invoice_url`) and PDF (`invoice_pdf`). Public to whoever has the address, as
//! Stripe's are: the random token in it is the secret. Written in the customer's
//! preferred language (English or French), as Stripe's follow `preferred_locales`.
//! Stripe's invoice page also takes a payment for an open invoice; this one says what
//! is due and where to pay is the shop's business.

use crate::api;
use crate::state::Account;
use serde_json::Value;

/// The words of the pages, in one of the languages a customer may prefer.
struct Words {
    lang: &'static str,
    receipt: &'static str,
    invoice: &'static str,
    from: &'static str,
    paid: &'static str,
    released: &'static str,
    authorized: &'static str,
    processing: &'static str,
    failed: &'static str,
    refunded: &'static str,
    date: &'static str,
    method: &'static str,
    period: &'static str,
    total: &'static str,
    applied_balance: &'static str,
    due: &'static str,
    download: &'static str,
    /// An invoice's status: paid, open, void, uncollectible.
    statuses: [&'static str; 4],
}

const EN: Words = Words {
    lang: "en",
    receipt: "Receipt",
    invoice: "Invoice",
    from: "From the Stripe emulator's test account",
    paid: "Amount paid: ",
    released: "Authorization released: ",
    authorized: "Authorized, not charged yet: ",
    processing: "Payment processing: ",
    failed: "Payment failed: ",
    refunded: "Refunded: ",
    date: "Date: ",
    method: "Payment method: ",
    period: "Period: ",
    total: "Total: ",
    applied_balance: "Applied balance: ",
    due: "Amount due: ",
    download: "Download invoice (PDF)",
    statuses: ["Paid", "Due", "Void", "Uncollectible"],
};

const FR: Words = Words {
    lang: "fr",
    receipt: "Reçu",
    invoice: "Facture",
    from: "Du compte de test de l'émulateur Stripe",
    paid: "Montant payé\u{a0}: ",
    released: "Autorisation libérée\u{a0}: ",
    authorized: "Autorisé, pas encore débité\u{a0}: ",
    processing: "Paiement en cours\u{a0}: ",
    failed: "Paiement refusé\u{a0}: ",
    refunded: "Remboursé\u{a0}: ",
    date: "Date\u{a0}: ",
    method: "Moyen de paiement\u{a0}: ",
    period: "Période\u{a0}: ",
    total: "Total\u{a0}: ",
    applied_balance: "Solde appliqué\u{a0}: ",
    due: "Reste à payer\u{a0}: ",
    download: "Télécharger la facture (PDF)",
    statuses: ["Payée", "À payer", "Annulée", "Irrécouvrable"],
};

impl Words {
    /// The words for the customer `customer` names (none: English).
    fn of(account: &Account, customer: &Value) -> &'static Words {
        let customer = customer.as_str().and_then(|id| account.get(id));
        let prefers = customer.and_then(|customer| customer["preferred_locales"][0].as_str()).unwrap_or_default();
        if prefers.starts_with("fr") { &FR } else { &EN }
    }

    /// `€10.99`, or `10,99 €` in French (`¥50` and `50 ¥`: no minor unit).
    fn money(&self, minor: i64, currency: &str) -> String {
        let symbol = match api::currency_symbol(currency) {
            "" => currency.to_uppercase(),
            symbol => symbol.to_owned(),
        };
        let sign = if minor < 0 { "−" } else { "" };
        let minor = minor.abs();
        match (self.lang, currency) {
            ("fr", "jpy") => format!("{sign}{minor}\u{a0}{symbol}"),
            ("fr", _) => format!("{sign}{},{:02}\u{a0}{symbol}", minor / 100, minor % 100),
            _ => format!("{sign}{}", api::major_units(minor, currency)),
        }
    }
}

/// `text` made safe for HTML, in an element or an attribute.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A page of `body`, titled `title`, in `words`' language.
fn page(words: &Words, title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} — Stripe emulator</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}td:last-child{{text-align:right;padding-left:1rem}}</style></head>
<body>{body}</body></html>"#,
        lang = words.lang,
        title = escape(title),
    )
}

/// The receipt page of the charge whose `receipt_url` is `url`: what was paid, when,
/// with what, and what went back since. Stripe keeps its page up to date with the
/// charge's refunds; this one is drawn from the charge as it is now. `None` when no
/// charge has that address.
pub(crate) fn receipt_page(account: &Account, url: &str) -> Option<String> {
    let charge = account.list("charge", |charge| charge["receipt_url"] == url).into_iter().next()?;
    let words = Words::of(account, &charge["customer"]);
    let currency = charge["currency"].as_str().unwrap_or_default();
    let money = |minor: i64| words.money(minor, currency);
    let amount = |field: &str| money(charge[field].as_i64().unwrap_or(0));
    let (label, shown) = match (charge["status"].as_str(), charge["captured"] == true) {
        (Some("succeeded"), true) => (words.paid, amount("amount_captured")),
        // What an authorization gives back is released, not refunded.
        (Some("succeeded"), false) if charge["refunded"] == true => (words.released, amount("amount")),
        (Some("succeeded"), false) => (words.authorized, amount("amount")),
        (Some("pending"), _) => (words.processing, amount("amount")),
        _ => (words.failed, amount("amount")),
    };
    // The refunds made (a partial capture's release counts in `amount_refunded` too).
    let given_back: i64 = account
        .list("refund", |refund| refund["charge"] == charge["id"] && matches!(refund["status"].as_str(), Some("succeeded" | "pending")))
        .iter()
        .filter_map(|refund| refund["amount"].as_i64())
        .sum();
    let refunds = match given_back {
        0 => String::new(),
        given_back => format!("<p>{}<strong>{}</strong></p>", words.refunded, money(-given_back)),
    };
    let card = &charge["payment_method_details"]["card"];
    let method = match (card["brand"].as_str(), card["last4"].as_str()) {
        (Some(brand), Some(last4)) => format!("<p>{}{} •••• {}</p>", words.method, escape(brand), escape(last4)),
        _ => String::new(),
    };
    // A charge for an invoice says which.
    let invoice = charge["payment_intent"]
        .as_str()
        .and_then(|pi| account.invoice_of_intent.get(pi))
        .and_then(|id| account.get(id)?["number"].as_str())
        .map(|number| format!("<p>{} {}</p>", words.invoice, escape(number)))
        .unwrap_or_default();
    let date = api::date(charge["created"].as_i64().unwrap_or(0));
    let description = charge["description"].as_str().map(|d| format!("<p>{}</p>", escape(d))).unwrap_or_default();
    let body = format!(
        r#"<h1>{title}</h1><p>{from} ({descriptor}).</p>{invoice}<p id="receipt-outcome">{label}<strong>{shown}</strong></p>{refunds}<p>{date_label}{date}</p>{method}{description}"#,
        title = words.receipt,
        from = words.from,
        date_label = words.date,
        descriptor = escape(charge["calculated_statement_descriptor"].as_str().unwrap_or_default()),
    );
    Some(page(words, words.receipt, &body))
}

/// What an invoice page and its PDF say, line by line.
struct InvoiceText {
    words: &'static Words,
    title: String,
    status: &'static str,
    /// (label, value) rows: the date, the period, each line, the totals.
    rows: Vec<(String, String)>,
    pdf: String,
}

/// The finalized invoice whose `field` (`hosted_invoice_url` or `invoice_pdf`) is
/// `url`, as its page and PDF put it.
fn invoice_text(account: &Account, field: &str, url: &str) -> Option<InvoiceText> {
    let invoice = account.list("invoice", |invoice| invoice[field] == url).into_iter().next()?;
    let words = Words::of(account, &invoice["customer"]);
    let currency = invoice["currency"].as_str().unwrap_or_default();
    let amount = |field: &str| words.money(invoice[field].as_i64().unwrap_or(0), currency);
    let status = match invoice["status"].as_str() {
        Some("paid") => words.statuses[0],
        Some("open") => words.statuses[1],
        Some("void") => words.statuses[2],
        _ => words.statuses[3],
    };
    let at = |field: &str| api::date(invoice[field].as_i64().unwrap_or(0));
    let mut rows = vec![
        (words.date.to_owned(), at("effective_at")),
        (words.period.to_owned(), format!("{} – {}", at("period_start"), at("period_end"))),
    ];
    for line in invoice["lines"]["data"].as_array().into_iter().flatten() {
        let description = line["description"].as_str().unwrap_or_default().to_owned();
        rows.push((description, words.money(line["amount"].as_i64().unwrap_or(0), currency)));
    }
    rows.push((words.total.to_owned(), amount("total")));
    // The customer's credit (negative) or debt, taken into what was due.
    let applied = invoice["amount_due"].as_i64().unwrap_or(0) - invoice["total"].as_i64().unwrap_or(0);
    if applied != 0 {
        rows.push((words.applied_balance.to_owned(), words.money(applied, currency)));
    }
    rows.push((words.paid.to_owned(), amount("amount_paid")));
    if invoice["status"] == "open" {
        rows.push((words.due.to_owned(), amount("amount_remaining")));
    }
    Some(InvoiceText {
        words,
        title: format!("{} {}", words.invoice, invoice["number"].as_str().unwrap_or_default()),
        status,
        rows,
        pdf: invoice["invoice_pdf"].as_str().unwrap_or_default().to_owned(),
    })
}

/// The page of the invoice whose `hosted_invoice_url` is `url`: its number, status,
/// lines and totals, and a link to its PDF. `None` when no invoice has that address.
pub(crate) fn invoice_page(account: &Account, url: &str) -> Option<String> {
    let text = invoice_text(account, "hosted_invoice_url", url)?;
    let rows: String =
        text.rows.iter().map(|(label, value)| format!("<tr><td>{}</td><td>{}</td></tr>", escape(label), escape(value))).collect();
    let body = format!(
        r#"<h1>{title}</h1><p>{from}.</p><p id="invoice-status"><strong>{status}</strong></p><table>{rows}</table><p><a href="{pdf}" id="invoice-pdf">{download}</a></p>"#,
        title = escape(&text.title),
        from = text.words.from,
        status = text.status,
        pdf = escape(&text.pdf),
        download = text.words.download,
    );
    Some(page(text.words, &text.title, &body))
}

/// The PDF of the invoice whose `invoice_pdf` is `url`: one A4 page with what its page
/// says. `None` when no invoice has that address.
pub(crate) fn invoice_pdf(account: &Account, url: &str) -> Option<Vec<u8>> {
    let text = invoice_text(account, "invoice_pdf", url)?;
    let mut lines = vec![text.title.clone(), text.words.from.to_owned(), text.status.to_owned(), String::new()];
    lines.extend(text.rows.iter().map(|(label, value)| format!("{label}  {value}")));
    Some(pdf(&lines))
}

/// A one-page PDF (A4, Helvetica 12 pt) of `lines`, in PDF's WinAnsi encoding.
fn pdf(lines: &[String]) -> Vec<u8> {
    let mut content = b"BT /F1 12 Tf 56 780 Td 18 TL".to_vec();
    for line in lines {
        content.extend_from_slice(b" (");
        content.extend(win_ansi(line));
        content.extend_from_slice(b") Tj T*");
    }
    content.extend_from_slice(b" ET");
    let mut objects: Vec<Vec<u8>> = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    .map(|object| object.as_bytes().to_vec())
    .to_vec();
    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend(content);
    stream.extend_from_slice(b"\nendstream");
    objects.push(stream);
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (number, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", number + 1).into_bytes());
        out.extend(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
    for offset in offsets {
        out.extend(format!("{offset:010} 00000 n \n").into_bytes());
    }
    out.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).into_bytes());
    out
}

/// `text` as a PDF string's bytes in WinAnsi (Windows-1252): Latin-1 as is, the
/// typographic marks Stripe's texts use at their code points, anything else as `?`;
/// the string's delimiters and backslash escaped.
fn win_ansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let byte = match c {
            '(' | ')' | '\\' => {
                out.push(b'\\');
                c as u8
            }
            '€' => 0x80,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '’' => 0x92,
            '−' => b'-',
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            _ => b'?',
        };
        out.push(byte);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_has_its_objects_where_its_cross_reference_table_says() {
        let out = pdf(&["Invoice ABC-0001".to_owned(), "Total: 10,99\u{a0}€ (incl.)".to_owned()]);
        // (Up to the content stream's text, all ASCII: its offsets are the bytes'.)
        let text = String::from_utf8_lossy(&out);
        assert!(out.starts_with(b"%PDF-1.4\n") && out.ends_with(b"%%EOF\n"));
        let xref: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert!(out[xref..].starts_with(b"xref\n0 6\n"));
        let table = std::str::from_utf8(&out[xref..]).unwrap();
        let entries: Vec<usize> = table.lines().skip(3).take(5).map(|line| line[..10].parse().unwrap()).collect();
        for (number, offset) in entries.into_iter().enumerate() {
            assert!(out[offset..].starts_with(format!("{} 0 obj\n", number + 1).as_bytes()), "object {}", number + 1);
        }
        // The content stream is as long as it says, and its text in WinAnsi.
        let stream = text.find("stream\n").unwrap() + "stream\n".len();
        let length: usize = text.split("/Length ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert_eq!(&out[stream + length..stream + length + "\nendstream".len()], b"\nendstream");
        let needle = b"10,99\xa0\x80 \\(incl.\\)";
        assert!(out.windows(needle.len()).any(|w| w == needle));
    }
}
