"""The HTTP face: /api/v1 routers, error mapping, dependencies."""

from fastapi import APIRouter


def api_router() -> APIRouter:
    """Every /api/v1 route, assembled from the feature routers."""
    from clickphone.accounts.api import router as accounts
    from clickphone.accounts.reset import router as reset
    from clickphone.api.health import router as health
    from clickphone.api.ws import router as live
    from clickphone.callback.api import router as callback
    from clickphone.calls.api import router as calls
    from clickphone.calls.summary import router as calls_summary
    from clickphone.directory.api import router as directory
    from clickphone.directory.sharing import router as sharing
    from clickphone.flows.api import router as flows
    from clickphone.messaging.api import router as messaging
    from clickphone.messaging.report import router as message_history
    from clickphone.notifications.api import router as notifications
    from clickphone.numbers.api import router as numbers
    from clickphone.recordings.api import router as recordings
    from clickphone.stats.api import router as stats
    from clickphone.trunks.api import router as trunks
    from clickphone.voicemail.api import router as voicemail

    router = APIRouter(prefix="/api/v1")
    # calls_summary before calls: /calls/{record_id} would take /calls/summary
    routers = (health, accounts, directory, numbers, calls_summary, calls, recordings, stats)
    for r in (*routers, trunks, live, reset, sharing, flows):
        router.include_router(r)
    router.include_router(notifications)
    router.include_router(callback)
    # the report's /messages/history before /messages/{message_id}
    router.include_router(message_history)
    router.include_router(messaging)
    router.include_router(voicemail)
    return router


__all__ = ["api_router"]
