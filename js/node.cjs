// Node CommonJS entry (`require`): the nodejs bindings, with asynchronous
// steps added to `Orchestrator` (js/hooks/async.mjs, an ES module:
// require(esm), Node 20.19 and later).
const bindings = require("../pkg/node/orchestrator_engine.js");
const { withAsyncSteps } = require("./hooks/async.mjs");
const { withFreezes } = require("./freezes.mjs");
const { withNotifications } = require("./notify/install.mjs");
const { withPipelines } = require("./pipelines.mjs");
const { OrchestratorError } = require("./errors.mjs");

withAsyncSteps(bindings.Orchestrator);
withFreezes(bindings.Orchestrator);
withNotifications(bindings.Orchestrator);
withPipelines(bindings.Orchestrator);

module.exports = { ...bindings, OrchestratorError };
