import io

from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    # pypdf breaks lines where the layout wraps; join so phrases can be searched whole
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")
