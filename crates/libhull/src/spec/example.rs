//! The config that `hull spec` writes: runc's example config (stub).

/// The text of the example `config.json`, tab-indented as runc writes it.
pub fn example_config(_rootless: bool) -> String {
    String::from("{}\n")
}
