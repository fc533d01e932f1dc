"""The baseline for bench_digits.py: FastAPI reading the same upload and returning a constant."""

from fastapi import FastAPI, UploadFile

app = FastAPI()


@app.post("/digits")
def bare(file: UploadFile) -> dict[str, str]:
    file.file.read()
    return {"text": "0000"}
