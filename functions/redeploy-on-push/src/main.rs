//! The `redeploy-on-push` Lambda function: wiring only, the logic is in the library.

use autopilot_shared::config::Env;
use lambda_runtime::{Error, run, service_fn};

// One thread: at 128 MB a function gets a fraction of one vCPU and all its
// work is waiting on I/O, so worker threads would only add to the cold start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    autopilot_shared::logging::init();
    let function = redeploy_on_push::Function::from_env(&Env::from_process());
    run(service_fn(|event| function.handle(event))).await
}
