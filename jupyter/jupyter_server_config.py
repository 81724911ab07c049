"""JupyterLab as the course opens it (``make lab``; the browser test starts it the same way).

    jupyter lab --config=jupyter/jupyter_server_config.py

The file browser opens in ``notebooks/`` and can go up to ``solutions/``; the course's
settings (line wrap in code cells, no news pop-up) are in ``jupyter/overrides.json``,
which ``make lab`` installs into the environment's JupyterLab.
"""

from pathlib import Path

c = get_config()  # noqa: F821 (Jupyter defines get_config in its config files)

c.ServerApp.root_dir = str(Path(__file__).resolve().parent.parent)
c.LabApp.default_url = "/lab/tree/notebooks"
# Encrypt the kernels' connection (CurveZMQ; the course kernel supports it), so that no
# kernel warns that it is "running over TCP without encryption".
c.KernelManager.transport_encryption = "auto"
