//! The parts of the deploy and recreate bodies' OpenAPI schemas (`GET /openapi.json`) that a
//! field's type cannot say: the patterns and bounds [`super::deploy_request`] checks. Each
//! schema is at most as wide as what the checks accept (a value it allows is accepted), so a
//! client, or a tool that generates requests from the description, can rely on it. The site's
//! own maxima (`max_memory`, `max_cpus`, `max_pids_limit`) are filled in when it is served.
//! (Patterns of plain string fields are on the fields themselves: utoipa takes only literals.)

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// Text without a NUL byte.
const NO_NUL: &str = "^[^\\u0000]*$";

fn string(pattern: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
}

fn nullable(schema: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
    RefOr::T(Schema::OneOf(
        OneOfBuilder::new()
            .item(schema)
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    ))
}

/// `labels`: any key but spawner's own (`origin`, `spawner.*`), none empty; no NUL byte.
pub fn labels() -> RefOr<Schema> {
    let keys: Schema = string("^[A-Za-z0-9_][^\\u0000]{0,127}$")
        .description(Some("Not `origin` nor `spawner.*` (spawner sets those)"))
        .build()
        .into();
    let object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(keys))
        .additional_properties(Some(string(NO_NUL)))
        .description(Some(
            "Labels of the container; `health-check` (a URL on the instance) is its readiness \
             probe; `origin` and `spawner.*` are refused",
        ));
    nullable(object)
}

/// `envs`: names without `=` nor NUL, not empty; values without NUL.
pub fn envs() -> RefOr<Schema> {
    let object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(Schema::from(string("^[^=\\u0000]+$").build())))
        .additional_properties(Some(string(NO_NUL)));
    nullable(object)
}

/// `volumes`: `{"<volume>": "/path/in/container"}`, at most 16, each path its own; never a host
/// path, nor `/`, `..`, `/proc`, `/sys`, `/dev` or Docker's own files.
pub fn volumes() -> RefOr<Schema> {
    let keys = string("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$").build();
    let object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(Schema::from(keys)))
        .additional_properties(Some(string(
            "^/(data|work|home|srv|mnt|opt)(/[A-Za-z0-9_-]{1,32}){0,3}$",
        )))
        .max_properties(Some(super::volumes::MAX_VOLUMES))
        .description(Some(
            "Named volumes of the instance's own; each at a path of its own",
        ));
    nullable(object)
}

/// `memory`: bytes, or a size such as `512m`; from 6 MiB to the site's `max_memory`.
pub fn memory() -> RefOr<Schema> {
    let bytes = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(super::limits::MIN_MEMORY as f64))
        .maximum(Some(2_147_483_648_f64));
    let text = string("^([6-9]|[1-9][0-9]{1,2})m$");
    let either = OneOfBuilder::new()
        .item(bytes)
        .item(text)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "Bytes, or e.g. \"512m\"; at most the site's max_memory",
        ));
    RefOr::T(Schema::OneOf(either.build()))
}
