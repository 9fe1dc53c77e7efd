//! Stock on hand: seeded from the catalog once, reserved by a payment attempt, put back
//! when the attempt fails, taken for good when the order is paid.

use super::db::{self, Tx};
use super::orders::{OrderLine, order_quantities};
use super::{Store, StoreError, count};
use std::collections::HashMap;

/// Stock on hand of these products (one indexed lookup each, in one statement).
pub(super) fn stock_of_products(tx: &mut Tx<'_>, product_ids: &[String]) -> Result<HashMap<String, u32>, StoreError> {
    if product_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = (1..=product_ids.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
    let params: Vec<&dyn db::ToParam> = product_ids.iter().map(|id| id as &dyn db::ToParam).collect();
    let rows = tx.query(&format!("SELECT product_id, on_hand FROM inventory WHERE product_id IN ({placeholders})"), &params)?;
    rows.iter().map(|row| Ok((row.get("product_id")?, count(row.get("on_hand")?)))).collect()
}

/// Takes `lines` out of the stock for `order_id` (in product order, so that concurrent
/// reservations on PostgreSQL lock rows in one order and cannot deadlock). When a line is
/// short, returns its name and what is left; the caller rolls back.
pub(super) fn reserve_stock(tx: &mut Tx<'_>, order_id: &str, lines: &[OrderLine]) -> Result<Option<(String, u32)>, StoreError> {
    let mut sorted: Vec<&OrderLine> = lines.iter().collect();
    sorted.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    for line in sorted {
        let left: Option<i64> = tx.scalar(
            "UPDATE inventory SET on_hand = on_hand - $1 WHERE product_id = $2 AND on_hand >= $1 RETURNING on_hand",
            &[&i64::from(line.quantity), &line.product_id],
        )?;
        if left.is_none() {
            let available: Option<i64> = tx.scalar("SELECT on_hand FROM inventory WHERE product_id = $1", &[&line.product_id])?;
            return Ok(Some((line.name.clone(), available.map_or(0, count))));
        }
    }
    tx.execute("UPDATE orders SET stock_reserved = 1 WHERE id = $1", &[&order_id])?;
    Ok(None)
}

/// Puts an order's reserved stock back (once: a second call finds nothing reserved).
pub(super) fn release_stock(tx: &mut Tx<'_>, order_id: &str) -> Result<(), StoreError> {
    let released = tx.execute("UPDATE orders SET stock_reserved = 0 WHERE id = $1 AND stock_reserved = 1", &[&order_id])?;
    if released == 1 {
        for (product_id, quantity) in order_quantities(tx, order_id)? {
            tx.execute("UPDATE inventory SET on_hand = on_hand + $1 WHERE product_id = $2", &[&quantity, &product_id])?;
        }
    }
    Ok(())
}

impl Store {
    /// Records the starting stock of products the database has not seen yet; stock of
    /// known products is left alone (the database owns it after the first sight).
    pub async fn seed_inventory<'a>(&self, items: impl IntoIterator<Item = (&'a str, u32)>) -> Result<(), StoreError> {
        let items: Vec<(String, i64)> = items.into_iter().map(|(id, stock)| (id.to_owned(), stock.into())).collect();
        self.write(move |tx| {
            for (product_id, on_hand) in &items {
                tx.execute(
                    "INSERT INTO inventory (product_id, on_hand) VALUES ($1, $2) ON CONFLICT (product_id) DO NOTHING",
                    &[product_id, on_hand],
                )?;
            }
            Ok(())
        })
        .await
    }
    /// Stock on hand of these products (one indexed lookup each, in one statement).
    pub async fn stock_of_products(&self, product_ids: &[&str]) -> Result<HashMap<String, u32>, StoreError> {
        let ids: Vec<String> = product_ids.iter().map(|id| (*id).to_owned()).collect();
        self.read(move |tx| stock_of_products(tx, &ids)).await
    }
    /// Stock on hand of one product (0 when unknown).
    pub async fn stock_of(&self, product_id: &str) -> Result<u32, StoreError> {
        let product_id = product_id.to_owned();
        self.read(move |tx| Ok(tx.scalar("SELECT on_hand FROM inventory WHERE product_id = $1", &[&product_id])?.map_or(0, count))).await
    }
}
