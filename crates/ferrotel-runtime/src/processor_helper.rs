//! What in-place editing processors (attributes, resource, transform) share: count what comes
//! in, edit the decoded request (decoding lazily, copying only if a fan-out branch shares it),
//! pass it on, count what goes out.

use ferrotel_pdata::{Payload, Request};

use crate::component::{ConsumeError, Consumer, Context};
use crate::telemetry::obs::ProcessorObs;

/// Runs `edit` on the request when `needs_edit` (skipping the decode otherwise) and forwards
/// the result to `next`. Errors name the processor (`transform: ...`) and are permanent.
pub async fn edit_then_forward(
    name: &str,
    obs: &ProcessorObs,
    next: &dyn Consumer,
    mut payload: Payload,
    ctx: Context,
    needs_edit: bool,
    edit: impl FnOnce(&mut Request, &Context) -> Result<(), String>,
) -> Result<(), ConsumeError> {
    let incoming = payload.items() as u64;
    obs.incoming.add(incoming);
    if needs_edit && incoming > 0 {
        payload
            .modify(|req| edit(req, &ctx))
            .map_err(|e| ConsumeError::permanent(format!("{name}: {e}")))?
            .map_err(|e| ConsumeError::permanent(format!("{name}: {e}")))?;
    }
    let outgoing = payload.items() as u64;
    next.consume(payload, ctx).await?;
    obs.outgoing.add(outgoing);
    Ok(())
}
