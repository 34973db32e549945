from django.urls import path

from dts.live.consumers import WorkspaceEventsConsumer
from dts.monitor.consumers import TaskLiveConsumer

websocket_urlpatterns = [
    path("ws/workspaces/<int:workspace_id>/", WorkspaceEventsConsumer.as_asgi()),
    path("ws/tasks/<int:task_id>/", TaskLiveConsumer.as_asgi()),
]
