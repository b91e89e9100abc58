//! Checks that `docs/spec-coverage.md`, the table of every config.json field with hull's
//! status and the test that proves it, keeps up with the spec types hull parses.
//!
//! The fields are found mechanically: `oci_spec::runtime::Spec` is deserialized from a
//! deserializer that answers every request with one made-up value and records the JSON path of
//! each field the derived code asks for (serde hands a struct's field names to
//! `deserialize_struct`, an enum's variant names to `deserialize_enum`). A new field in a newer
//! oci-spec therefore shows up here, and the test fails until the table has a row for it.
//!
//! Written here rather than taken from serde-reflection: that crate's tracer cannot get through
//! oci-spec's hand-written `Capability` deserializer or the `serde_json::Value` in the Windows
//! section, and a path walk needs only a small part of what it does.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde::de::value::{Error, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

/// Every JSON path of config.json (arrays as `[]`, map entries as `*`) -> the variant names
/// when the value is an enum.
pub type Fields = BTreeMap<String, Option<&'static [&'static str]>>;

/// Walks `T`'s serde shape and returns every path it has.
pub fn spec_fields<T: de::DeserializeOwned>() -> Fields {
    let seen = RefCell::new(Fields::new());
    T::deserialize(Walker { seen: &seen, path: String::new() }).expect("the walk answers every request");
    seen.into_inner()
}

/// The table's rows: every field but the array elements and map entries themselves (`a[]`,
/// `m.*`), and but the objects that have member rows (`process.user` has `process.user.uid`,
/// ...). Arrays and maps keep a row of their own besides their members' rows.
pub fn table_fields(all: &Fields) -> BTreeSet<String> {
    let has_members = |p: &str| {
        all.keys().any(|q| q.len() > p.len() + 1 && q.starts_with(p) && q[p.len()..].starts_with('.') && !q[p.len()..].starts_with(".*"))
    };
    all.keys().filter(|p| !p.is_empty() && !p.ends_with("[]") && !p.ends_with(".*")).filter(|p| !has_members(p)).cloned().collect()
}

struct Walker<'a> {
    seen: &'a RefCell<Fields>,
    path: String,
}

impl<'a> Walker<'a> {
    fn record(&self, variants: Option<&'static [&'static str]>) {
        self.seen.borrow_mut().insert(self.path.clone(), variants);
    }

    fn child(&self, name: &str) -> Walker<'a> {
        let path = if self.path.is_empty() { name.to_string() } else { format!("{}.{name}", self.path) };
        Walker { seen: self.seen, path }
    }

    /// A string oci-spec's own validation accepts at this path.
    fn sample_string(&self) -> String {
        if self.path.contains("capabilities.") {
            "CAP_CHOWN".into()
        } else {
            // CPU lists (execCPUAffinity) must be digits; anything else takes any string.
            "0".into()
        }
    }
}

macro_rules! number {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            self.record(None);
            v.visit_u8(0)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Walker<'_> {
    type Error = Error;

    number!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64
    );
    number!(deserialize_f32, deserialize_f64);

    /// Only `serde_json::Value` asks for "anything": a null will do.
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        v.visit_unit()
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        v.visit_bool(false)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        v.visit_char('0')
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        v.visit_string(self.sample_string())
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        v.visit_bytes(&[])
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        v.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        let item = self.child("[]");
        // "a.[]" reads better as "a[]".
        let item = Walker { path: item.path.replace(".[]", "[]"), ..item };
        v.visit_seq(OneItem { item: Some(item) })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _name: &'static str, _len: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.record(None);
        let value = self.child("*");
        v.visit_map(Members { keys: vec!["key"], values: vec![value] })
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _name: &'static str, fields: &'static [&'static str], v: V) -> Result<V::Value, Error> {
        self.record(None);
        let values = fields.iter().map(|f| self.child(f)).collect();
        v.visit_map(Members { keys: fields.to_vec(), values })
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, variants: &'static [&'static str], v: V) -> Result<V::Value, Error> {
        self.record(Some(variants));
        let first = variants.first().copied().ok_or_else(|| de::Error::custom(format!("{}: an enum without variants", self.path)))?;
        v.visit_enum(UnitVariant(first))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

/// An array of one element.
struct OneItem<'a> {
    item: Option<Walker<'a>>,
}

impl<'de> de::SeqAccess<'de> for OneItem<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.item.take().map(|w| seed.deserialize(w)).transpose()
    }
}

/// A struct's fields (or a map's one entry), each with a walker at its path.
struct Members<'a> {
    keys: Vec<&'static str>,
    values: Vec<Walker<'a>>,
}

impl<'de> de::MapAccess<'de> for Members<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        let key: StrDeserializer<'_, Error> = self.keys.remove(0).into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(self.values.remove(0))
    }
}

/// The first variant of an enum; oci-spec's enums are all plain names.
struct UnitVariant(&'static str);

impl<'de> de::EnumAccess<'de> for UnitVariant {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Error> {
        let name: StrDeserializer<'_, Error> = self.0.into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Error> {
        Err(de::Error::custom(format!("variant {} carries data: teach the walk about it", self.0)))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, Error> {
        Err(de::Error::custom(format!("variant {} carries data: teach the walk about it", self.0)))
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], _v: V) -> Result<V::Value, Error> {
        Err(de::Error::custom(format!("variant {} carries data: teach the walk about it", self.0)))
    }
}

/// One row of the coverage table.
#[derive(Debug)]
pub struct Row {
    /// The JSON path (or, in the annotations table, the key).
    pub field: String,
    /// "supported", "refused", "ignored" or "n/a".
    pub status: String,
    /// Test names; empty for "none yet".
    pub tests: Vec<String>,
    /// Which table: the config fields, the spec-only fields or the annotation keys.
    pub table: Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Fields,
    SpecOnly,
    Annotations,
}

/// The coverage table, as the docs have it.
pub const TABLE: &str = include_str!("../../../docs/spec-coverage.md");

/// The rows of `TABLE`: lines `| `field` | status | tests | notes |`.
pub fn rows(text: &str) -> Vec<Row> {
    let mut table = Table::Fields;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("## ") {
            table = if line.contains("not in the parsed types") {
                Table::SpecOnly
            } else if line.contains("Annotations") {
                Table::Annotations
            } else {
                Table::Fields
            };
        }
        let Some(rest) = line.strip_prefix("| `") else { continue };
        let cells: Vec<&str> = rest.split(" | ").collect();
        assert!(cells.len() >= 3, "a table row needs field, status and test: {line}");
        let tests = if cells[2].trim() == "none yet" {
            Vec::new()
        } else {
            cells[2].split(", ").map(|t| t.trim().trim_matches('`').to_string()).collect()
        };
        out.push(Row { field: cells[0].trim_end_matches('`').to_string(), status: cells[1].trim().to_string(), tests, table });
    }
    out
}

/// Where a test named in the table lives: `FILE::FN` in crates/hull/tests, `libhull::M::FN`
/// in crates/libhull/src.
fn test_file(name: &str) -> Option<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let parts: Vec<&str> = name.split("::").collect();
    let (func, module) = parts.split_last()?;
    match module {
        [file] => Some((root.join(format!("crates/hull/tests/{file}.rs")), func.to_string())),
        ["libhull", m @ ..] if !m.is_empty() => {
            let base = root.join("crates/libhull/src").join(m.join("/"));
            let file = base.with_extension("rs");
            Some((if file.exists() { file } else { base.join("mod.rs") }, func.to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn spec_fields_now() -> Fields {
        spec_fields::<oci_spec::runtime::Spec>()
    }

    #[test]
    fn every_spec_field_has_a_row() {
        let want = table_fields(&spec_fields_now());
        let rows = rows(TABLE);
        let have: BTreeSet<String> = rows.iter().filter(|r| r.table == Table::Fields).map(|r| r.field.clone()).collect();
        let missing: Vec<&String> = want.difference(&have).collect();
        let stale: Vec<&String> = have.difference(&want).collect();
        assert!(missing.is_empty(), "fields of oci_spec::runtime::Spec without a row in docs/spec-coverage.md: {missing:?}");
        assert!(stale.is_empty(), "rows of docs/spec-coverage.md for fields the spec types do not have: {stale:?}");
        // A field the types have is not listed again as spec-only.
        for r in rows.iter().filter(|r| r.table == Table::SpecOnly) {
            assert!(!want.contains(&r.field), "{} is in the types: move it to the field tables", r.field);
        }
        for r in &rows {
            assert!(["supported", "refused", "ignored", "n/a"].contains(&r.status.as_str()), "{}: status {:?}", r.field, r.status);
            // A claim of support names its proof, except the few rows that say why not.
            if r.status == "supported" && r.tests.is_empty() {
                assert!(UNTESTED_SUPPORTED.contains(&r.field.as_str()), "{} is supported but names no test", r.field);
            }
        }
        assert!(rows.len() > 250, "the table parsed to {} rows only", rows.len());
    }

    /// Rows marked supported whose only proof is still to be written; the table says so in
    /// their notes. Shrinks as tests are added (the check above fails on a new one).
    const UNTESTED_SUPPORTED: &[&str] = &[
        "process.scheduler.priority",
        "process.scheduler.flags",
        "process.scheduler.runtime",
        "process.scheduler.deadline",
        "process.scheduler.period",
        "linux.resources.memory.disableOOMKiller",
        "linux.resources.cpu.burst",
        "linux.resources.cpu.idle",
        "linux.resources.unified",
        "hooks.createContainer[].env",
        "hooks.createRuntime[].env",
        "hooks.poststart[].env",
        "hooks.poststop[].env",
        "hooks.prestart[].env",
        "hooks.startContainer[].env",
    ];

    #[test]
    fn every_named_test_exists() {
        let mut sources = BTreeMap::new();
        for r in rows(TABLE) {
            for t in &r.tests {
                let (file, func) = test_file(t).unwrap_or_else(|| panic!("{}: {t:?} is not FILE::FN nor libhull::MODULE::FN", r.field));
                let text = sources.entry(file.clone()).or_insert_with(|| {
                    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {t}: {}: {e}", r.field, file.display()))
                });
                let at = text.find(&format!("fn {func}()")).unwrap_or_else(|| panic!("{}: no test {t} ({})", r.field, file.display()));
                // The function is a test: #[test] stands in the few lines before it.
                let before = &text[text[..at].len().saturating_sub(200)..at];
                assert!(before.contains("#[test]"), "{}: {t} is not a #[test] function", r.field);
            }
        }
    }

    /// A config that sets each refused field (a sample value), merged into a valid config.
    fn refused_sample(field: &str) -> Option<Value> {
        let v = match field {
            "process.execCPUAffinity.initial" => json!({"process": {"execCPUAffinity": {"initial": "0"}}}),
            "process.execCPUAffinity.final" => json!({"process": {"execCPUAffinity": {"final": "0"}}}),
            "linux.netDevices" | "linux.netDevices.*.name" => json!({"linux": {"netDevices": {"dummy0": {"name": "eth1"}}}}),
            "linux.timeOffsets" | "linux.timeOffsets.*.secs" | "linux.timeOffsets.*.nanosecs" => {
                json!({"linux": {"timeOffsets": {"monotonic": {"secs": 86400, "nanosecs": 0}}}})
            }
            "linux.memoryPolicy.mode" | "linux.memoryPolicy.nodes" | "linux.memoryPolicy.flags" => {
                json!({"linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}}})
            }
            f if f.starts_with("linux.intelRdt.") => {
                let key = &f["linux.intelRdt.".len()..];
                let value = match key {
                    "closID" => json!("hull"),
                    "schemata" => json!(["L3:0=f"]),
                    "l3CacheSchema" => json!("L3:0=f"),
                    "memBwSchema" => json!("MB:0=50"),
                    _ => json!(true),
                };
                json!({"linux": {"intelRdt": {key: value}}})
            }
            _ => return None,
        };
        Some(v)
    }

    fn merge(into: &mut Value, from: &Value) {
        match (into, from) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b.clone(),
        }
    }

    /// The rows that say "refused" and name this test: a config setting the field fails the
    /// config check (before any side effect: `Plan::from_spec` touches nothing), and the
    /// error names the field's section.
    #[test]
    fn refused_rows_are_refused_naming_the_field() {
        let me = "libhull::coverage::refused_rows_are_refused_naming_the_field";
        let base: Value = serde_json::from_str(&crate::spec::example::example_config(false)).unwrap();
        let mut checked = 0;
        for r in rows(TABLE).into_iter().filter(|r| r.tests.iter().any(|t| t == me)) {
            assert_eq!(r.status, "refused", "{} names {me} but is {}", r.field, r.status);
            let sample = refused_sample(&r.field).unwrap_or_else(|| panic!("{}: no sample config in refused_sample", r.field));
            let mut config = base.clone();
            config["root"]["path"] = json!("/");
            merge(&mut config, &sample);
            let spec: oci_spec::runtime::Spec =
                serde_json::from_value(config).unwrap_or_else(|e| panic!("{}: sample does not parse: {e}", r.field));
            let err = match crate::spec::Plan::from_spec(spec, std::path::Path::new("/")) {
                Ok(_) => panic!("{}: a config setting it was accepted", r.field),
                Err(e) => e.to_string(),
            };
            // The error names the field or the object that holds it (`linux.intelRdt`).
            let section: String = r.field.split('.').take(2).collect::<Vec<_>>().join(".");
            assert!(err.starts_with(&section), "{}: the error does not name it: {err}", r.field);
            checked += 1;
        }
        assert!(checked > 0);
    }

    /// `hull features` says what the table says, where the two can be compared mechanically.
    #[test]
    fn features_agree_with_the_table() {
        let f: Value = serde_json::from_str(&crate::features::features_json()).unwrap();
        let rows = rows(TABLE);
        let status = |field: &str| {
            rows.iter()
                .find(|r| r.field == field && r.table == Table::Fields)
                .map(|r| r.status.clone())
                .unwrap_or_else(|| panic!("no row {field}"))
        };
        let supported = |field: &str| status(field) == "supported";
        let all = spec_fields_now();
        let variants = |p: &str| -> BTreeSet<String> {
            all.get(p).copied().flatten().unwrap_or_else(|| panic!("{p} is not an enum")).iter().map(|s| s.to_string()).collect()
        };
        let list = |v: &Value| -> BTreeSet<String> {
            v.as_array().unwrap_or_else(|| panic!("{v} is not a list")).iter().map(|s| s.as_str().unwrap().to_string()).collect()
        };
        let l = &f["linux"];

        // Namespaces, seccomp actions and operators: a supported row means every value the
        // spec types allow, and the features document lists exactly those.
        for (row, listed) in [
            ("linux.namespaces[].type", &l["namespaces"]),
            ("linux.seccomp.syscalls[].action", &l["seccomp"]["actions"]),
            ("linux.seccomp.syscalls[].args[].op", &l["seccomp"]["operators"]),
        ] {
            assert!(supported(row), "{row}");
            assert_eq!(list(listed), variants(row), "hull features vs the values of {row}");
        }
        assert_eq!(variants("linux.seccomp.defaultAction"), variants("linux.seccomp.syscalls[].action"));

        // Hooks: listed exactly when the row says supported.
        let hooks: BTreeSet<String> = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
            .into_iter()
            .filter(|h| supported(&format!("hooks.{h}")))
            .map(String::from)
            .collect();
        assert_eq!(list(&f["hooks"]), hooks);
        // Every hook kind the types have has a row (so the list above is complete).
        let kinds = all.keys().filter(|p| p.starts_with("hooks.") && !p.contains('[') && p.matches('.').count() == 1).count();
        assert_eq!(kinds, 6);

        // The on/off features: on exactly when the table says supported.
        for (flag, row) in [
            (&l["apparmor"]["enabled"], "process.apparmorProfile"),
            (&l["selinux"]["enabled"], "process.selinuxLabel"),
            (&l["selinux"]["enabled"], "linux.mountLabel"),
            (&l["netDevices"]["enabled"], "linux.netDevices"),
            (&l["mountExtensions"]["idmap"]["enabled"], "mounts[].uidMappings"),
            (&l["cgroup"]["rdma"], "linux.resources.rdma"),
            (&l["seccomp"]["enabled"], "linux.seccomp.defaultAction"),
        ] {
            assert_eq!(flag.as_bool(), Some(supported(row)), "hull features vs the row {row} ({})", status(row));
        }
        // intelRdt is supported where resctrl is mounted, and `hull features` says whether it is.
        let resctrl = crate::rdt::is_resctrl(std::path::Path::new(crate::rdt::RESCTRL_ROOT));
        assert_eq!(l["intelRdt"]["enabled"].as_bool(), Some(supported("linux.intelRdt.closID") && resctrl));

        // Mount options: the row points at the features list, so it must be there and parse.
        assert!(supported("mounts[].options") && list(&f["mountOptions"]).len() > 10);

        // Annotations: the keys an engine should not pass through are the table's keys.
        let keys: BTreeSet<String> = rows.iter().filter(|r| r.table == Table::Annotations).map(|r| r.field.clone()).collect();
        assert_eq!(list(&f["potentiallyUnsafeConfigAnnotations"]), keys);
    }
}
