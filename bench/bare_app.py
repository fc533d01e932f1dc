"""The baselines for bench_digits.py: FastAPI reading the same upload and returning a constant.

`app` is a plain `def` endpoint (FastAPI runs it in its thread pool); `async_app` the same as
`async def` (on the event loop, no thread hand-off), the leaner of the two.
"""

from fastapi import FastAPI, UploadFile

app = FastAPI()
async_app = FastAPI()


@app.post("/digits")
def bare(file: UploadFile) -> dict[str, str]:
    file.file.read()
    return {"text": "0000"}


@async_app.post("/digits")
async def bare_async(file: UploadFile) -> dict[str, str]:
    await file.read()
    return {"text": "0000"}
