//! Writes the generated seeds into `corpus/<target>/`: `seed-<name>`, and
//! `regression-<name>` for inputs that once made a target fail.
//!
//! Run from `fuzz/`: `cargo run --example write_seeds`. Existing files of
//! the same name are overwritten; nothing else in the corpus is touched.

use std::fs;
use std::path::Path;

use lucet_fuzz::seeds::{self, REGRESSION_PREFIX};

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for seed in seeds::all() {
        let dir = root.join(seed.target);
        fs::create_dir_all(&dir)?;
        let name = if seed.name.starts_with(REGRESSION_PREFIX) {
            seed.name.clone()
        } else {
            format!("seed-{}", seed.name)
        };
        let path = dir.join(name);
        fs::write(&path, &seed.bytes)?;
        println!("{} ({} bytes)", path.display(), seed.bytes.len());
    }
    Ok(())
}
