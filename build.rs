//! `sqlx::migrate!` embeds `migrations/` when the crate compiles; without this, a new
//! migration file would not rebuild it (sqlx's documented build script).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
