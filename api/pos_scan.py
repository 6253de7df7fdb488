"""Reads a coupon's QR code from a photo for tills whose browser cannot (no BarcodeDetector).

The browser sends the photo as grey pixels (one byte each, row by row) so the server decodes
no image format; zxing-cpp finds the QR code in them.
"""

import zxingcpp
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from api.auth import CallerKind, authenticate, bearer_token
from api.rate_limits import POS_SCAN, limited

MAX_SIDE = 2048
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _problem(message: str, status: int) -> JSONResponse:
    return JSONResponse(
        {"message": message}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def _side(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "")
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_SIDE else None


def read_qr(pixels: bytes, width: int, height: int) -> str | None:
    """The text of the first QR code in a grey image, or None."""
    image = memoryview(pixels).cast("B", (height, width))
    found = zxingcpp.read_barcodes(image, formats=QR_ONLY)
    return found[0].text if found else None


async def _body_up_to(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes `limit` bytes: never more is held in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


async def scan(request: Request) -> JSONResponse:
    caller = await authenticate(bearer_token(request))
    if caller is None:
        return _problem("This key was not accepted.", 401)
    if caller.kind not in (CallerKind.ADMIN, CallerKind.POS):
        return _problem("Only till (POS) and admin keys may scan.", 403)
    width, height = _side(request, "width"), _side(request, "height")
    if width is None or height is None:
        return _problem(f"width and height must be whole numbers from 1 to {MAX_SIDE}.", 422)
    pixels = await _body_up_to(request, width * height)
    if pixels is None or len(pixels) != width * height:
        return _problem("The image must have one byte per pixel.", 422)
    # Decoding takes a while on a large photo: off the event loop, so other requests go on.
    text = await run_in_threadpool(read_qr, pixels, width, height)
    if text is None:
        return _problem("No QR code found in the photo: try again closer, or type the code.", 422)
    return JSONResponse({"text": text}, headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [Route("/pos/scan", limited(POS_SCAN, scan), methods=["POST"])]
