"""Models that more than one module needs, one file per paper.

Import the file: ``from coursekit.nn import vae``. A lecture builds its model in readable cells; when a later
module reuses it, the model lives here and the lecture imports it instead of redefining it.
"""
