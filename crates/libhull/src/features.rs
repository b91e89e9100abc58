//! `hull features`: the runtime-spec features document (stub).

/// The features JSON, 4-space indented as runc prints it.
pub fn features_json() -> String {
    String::from("{}\n")
}
