"""The Servers window: saved lab servers, their live status, adding, testing, importing;
saved Slurm clusters with their queues."""

from __future__ import annotations

from app.views.servers.clusters import ClusterPanel
from app.views.servers.connection_test import ConnectionTest
from app.views.servers.dialog import ServersDialog
from app.views.servers.form import ServerForm
from app.views.servers.keeper import SecretKeeper
from app.views.servers.status_source import ExecutorStatusSource, StatusSource

__all__ = ["ClusterPanel", "ConnectionTest", "ExecutorStatusSource", "SecretKeeper", "ServerForm",
           "ServersDialog", "StatusSource"]
