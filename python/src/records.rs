//! The contract's records as Python sees them: shares and snapshots come in
//! as dicts (only `id` is required; the rest take Manila's defaults, and a
//! key the record does not have is refused by name), access rules as dicts
//! of their fields; what drivers answer goes back as dicts of plain values.
//! Records cross as JSON, through Python's own `json` module.

use privdata_host::{AccessLevel, AccessRule, AccessType, RuleResult, RuleState, Share, Snapshot};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

/// `obj` as JSON.
fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let text: String = obj
        .py()
        .import("json")?
        .call_method1("dumps", (obj,))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `value` as Python objects (dicts, lists, strings, numbers, None).
pub(crate) fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// `given` laid over `defaults` (both JSON objects), refusing keys the
/// record does not have.
fn overlay(what: &str, mut defaults: Value, given: Value) -> PyResult<Value> {
    let Value::Object(given) = given else {
        return Err(PyValueError::new_err(format!("a {what} is a dict, not {given}")));
    };
    let fields = defaults.as_object_mut().expect("records are objects");
    for (key, value) in given {
        if !fields.contains_key(&key) {
            let mut known: Vec<&String> = fields.keys().collect();
            known.sort();
            return Err(PyValueError::new_err(format!(
                "a {what} has no {key:?}; its keys are {known:?}"
            )));
        }
        fields.insert(key, value);
    }
    Ok(Value::Object(fields.clone()))
}

fn required_id(what: &str, given: &Value) -> PyResult<String> {
    match given.get("id") {
        Some(Value::String(id)) => Ok(id.clone()),
        _ => Err(PyValueError::new_err(format!(
            "a {what} needs its \"id\" (a string)"
        ))),
    }
}

fn share_value(given: Value) -> PyResult<Share> {
    let id = required_id("share", &given)?;
    let defaults = serde_json::to_value(Share::new(&id, 1, "NFS")).expect("a share serializes");
    serde_json::from_value(overlay("share", defaults, given)?)
        .map_err(|e| PyValueError::new_err(format!("share {id}: {e}")))
}

/// A share from a dict with the contract's field names.
pub(crate) fn share(obj: &Bound<'_, PyAny>) -> PyResult<Share> {
    share_value(to_json(obj)?)
}

/// Shares from a list of dicts.
pub(crate) fn shares(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Share>> {
    match to_json(obj)? {
        Value::Array(items) => items.into_iter().map(share_value).collect(),
        other => Err(PyValueError::new_err(format!("shares are a list, not {other}"))),
    }
}

/// A snapshot from a dict with the contract's field names; its `share` is
/// a share's dict.
pub(crate) fn snapshot(obj: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    let mut given = to_json(obj)?;
    let id = required_id("snapshot", &given)?;
    let share = match given.as_object_mut().and_then(|fields| fields.remove("share")) {
        Some(share) => share_value(share)?,
        None => {
            return Err(PyValueError::new_err(format!(
                "snapshot {id} needs its \"share\""
            )));
        }
    };
    let defaults = serde_json::to_value(Snapshot::new(&id, share.clone())).expect("a snapshot serializes");
    serde_json::from_value(overlay("snapshot", defaults, given)?)
        .map_err(|e| PyValueError::new_err(format!("snapshot {id}: {e}")))
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct RuleArg {
    id: String,
    access_type: String,
    access_to: String,
    access_level: String,
    #[pyo3(default)]
    access_key: Option<String>,
    #[pyo3(default)]
    metadata: Vec<(String, String)>,
}

/// Access rules from dicts: `id`, `access_type` (`ip`, `user`, `cert`,
/// `cephx`), `access_to`, `access_level` (`rw`, `ro`), and optionally
/// `access_key` and `metadata`.
pub(crate) fn rules(obj: &Bound<'_, PyAny>) -> PyResult<Vec<AccessRule>> {
    let rules: Vec<RuleArg> = obj.extract()?;
    rules
        .into_iter()
        .map(|r| {
            let access_type = match r.access_type.as_str() {
                "ip" => AccessType::Ip,
                "user" => AccessType::User,
                "cert" => AccessType::Cert,
                "cephx" => AccessType::Cephx,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "access rule {}: access_type {other:?} is not one of \"ip\", \"user\", \"cert\", \"cephx\"",
                        r.id
                    )));
                }
            };
            let access_level = match r.access_level.as_str() {
                "rw" => AccessLevel::Rw,
                "ro" => AccessLevel::Ro,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "access rule {}: access_level {other:?} is not \"rw\" or \"ro\"",
                        r.id
                    )));
                }
            };
            Ok(AccessRule {
                access_key: r.access_key,
                metadata: r.metadata,
                ..AccessRule::new(&r.id, access_type, &r.access_to, access_level)
            })
        })
        .collect()
}

/// Rule states by rule id: `{"state": "active" | "error", "access_key": ...}`.
pub(crate) fn rule_states<'py>(py: Python<'py>, results: Vec<RuleResult>) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for r in results {
        let state = PyDict::new(py);
        state.set_item(
            "state",
            match r.state {
                RuleState::Active => "active",
                RuleState::Error => "error",
            },
        )?;
        state.set_item("access_key", r.access_key)?;
        out.set_item(r.id, state)?;
    }
    Ok(out)
}
