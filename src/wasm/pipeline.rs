//! Promotion pipelines: `Orchestrator`'s methods for them, and pipelines
//! and upstream facts read from JS.

use wasm_bindgen::prelude::*;

use super::interop::{error_to_js, string_arg, to_js};
use super::orchestrator::Orchestrator;
use super::reader::{self, Refusal};
use crate::{Error, Pipeline, Upstream, MAX_SOAK_SECS, MAX_UPSTREAMS};

type JsResult<T> = Result<T, JsValue>;

const MS: i64 = 9_007_199_254_740_991;

fn pipeline_from_js(value: &JsValue) -> Result<Option<Pipeline>, Error> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    let input = reader::object("pipeline".into(), value, Refusal::Argument)?;
    let from = input
        .list("from", MAX_UPSTREAMS)?
        .iter()
        .enumerate()
        .map(|(i, name)| name.as_string().ok_or_else(|| input.bad(&format!("from[{i}]"), name, "must be a string \"namespace/entity\"")))
        .collect::<Result<Vec<_>, _>>()?;
    let template = input.get("verification");
    let verification = if template.is_undefined() || template.is_null() {
        None
    } else {
        Some(Box::new(super::analysis::analysis_from_js("pipeline.verification", &template)?))
    };
    #[allow(clippy::cast_sign_loss)]
    Ok(Some(Pipeline {
        from,
        all: input.boolean("all")?.unwrap_or(false),
        soak_secs: input.int("soakSecs", 0, MAX_SOAK_SECS as i64)?.unwrap_or(0) as u64,
        approval: input.boolean("approval")?.unwrap_or(false),
        verification,
    }))
}

/// Upstream facts a binding read elsewhere (`upstream()` of each), or
/// `None` for those this engine holds.
fn upstreams_from_js(value: &JsValue) -> Result<Option<Vec<Upstream>>, Error> {
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    let holder = js_sys::Object::new();
    js_sys::Reflect::set(&holder, &"upstreams".into(), value).ok();
    let input = reader::object("upstreams".into(), &holder, Refusal::Argument)?;
    let mut upstreams = Vec::new();
    for (i, item) in input.list("upstreams", MAX_UPSTREAMS)?.iter().enumerate() {
        let u = input.object(format!("upstreams[{i}]"), item)?;
        let bad = u
            .list("bad", 1024)?
            .iter()
            .enumerate()
            .map(|(j, v)| v.as_string().ok_or_else(|| u.bad(&format!("bad[{j}]"), v, "must be a string")))
            .collect::<Result<Vec<_>, _>>()?;
        upstreams.push(Upstream {
            name: u.required("name")?,
            found: u.boolean("found")?.unwrap_or(false),
            good: u.string("good")?,
            good_since: u.int("goodSince", -MS, MS)?,
            rolling: u.string("rolling")?.unwrap_or_default(),
            bad,
        });
    }
    Ok(Some(upstreams))
}

#[wasm_bindgen]
impl Orchestrator {
    /// Sets (or with `null` removes) where the entity takes its versions
    /// from: `from`, one or more upstream entities as `"namespace/entity"`;
    /// `all` (a version good in every one; default: the newest good in any);
    /// `soakSecs`, how long after its rollout upstream succeeded; `approval`,
    /// whether each promotion waits for `approvePromotion`. When they hold,
    /// the entity's target version becomes the upstream's good version by
    /// itself (event `version_promoted`). Returns whether it changed.
    ///
    /// @example
    /// ```js
    /// engine.setPipeline("prod", "api", { from: ["staging/api"], soakSecs: 3600, approval: true });
    /// ```
    #[wasm_bindgen(js_name = setPipeline)]
    pub fn set_pipeline(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "PipelineInput | null")] pipeline: JsValue,
    ) -> JsResult<bool> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = string_arg("entity", &entity).map_err(error_to_js)?;
        let pipeline = pipeline_from_js(&pipeline).map_err(error_to_js)?;
        self.engine.set_pipeline(&ns, &entity, pipeline).map_err(error_to_js)
    }

    /// The entity's pipeline now: its upstreams (what each has good and
    /// since when, what each turned back), the version they point at, and
    /// why it is not promoted yet (`waiting`), a hold by a version set by
    /// hand, an approval given, the versions promoted. `upstreams`: facts
    /// read elsewhere (`upstream()` of each); default those this engine holds.
    #[wasm_bindgen(js_name = pipeline, skip_typescript)]
    pub fn pipeline(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        upstreams: Option<JsValue>,
    ) -> JsResult<JsValue> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = string_arg("entity", &entity).map_err(error_to_js)?;
        let upstreams = upstreams_from_js(&upstreams.unwrap_or(JsValue::UNDEFINED)).map_err(error_to_js)?;
        let now = self.now().map_err(error_to_js)?;
        to_js(&self.engine.pipeline(&ns, &entity, upstreams, now).map_err(error_to_js)?).map_err(error_to_js)
    }

    /// What the entity tells the entities that take their versions from it.
    #[wasm_bindgen(js_name = upstream, unchecked_return_type = "Upstream")]
    pub fn upstream(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<JsValue> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = string_arg("entity", &entity).map_err(error_to_js)?;
        to_js(&self.engine.upstream(&ns, &entity).map_err(error_to_js)?).map_err(error_to_js)
    }

    /// Promotes now when the pipeline's conditions hold (a step does this
    /// by itself when the engine holds every upstream); returns the version
    /// promoted, or `undefined`.
    #[wasm_bindgen(js_name = advancePipeline, skip_typescript)]
    pub fn advance_pipeline(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        upstreams: Option<JsValue>,
    ) -> JsResult<Option<String>> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = string_arg("entity", &entity).map_err(error_to_js)?;
        let upstreams = upstreams_from_js(&upstreams.unwrap_or(JsValue::UNDEFINED)).map_err(error_to_js)?;
        let now = self.now().map_err(error_to_js)?;
        self.engine.advance_pipeline(&ns, &entity, upstreams, now).map_err(error_to_js)
    }

    /// Approves the promotion of `version` (a pipeline with `approval`);
    /// returns whether that changed anything.
    #[wasm_bindgen(js_name = approvePromotion)]
    pub fn approve_promotion(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] version: JsValue,
    ) -> JsResult<bool> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = string_arg("entity", &entity).map_err(error_to_js)?;
        let version = string_arg("version", &version).map_err(error_to_js)?;
        self.engine.approve_promotion(&ns, &entity, &version).map_err(error_to_js)
    }

    /// Lets the pipeline promote again after a version set by hand held it;
    /// returns whether it was held.
    #[wasm_bindgen(js_name = releasePipeline)]
    pub fn release_pipeline(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] namespace: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string")] entity: JsValue,
    ) -> JsResult<bool> {
        let ns = string_arg("namespace", &namespace).map_err(error_to_js)?;
        let entity = string_arg("entity", &entity).map_err(error_to_js)?;
        self.engine.release_pipeline(&ns, &entity).map_err(error_to_js)
    }
}
