from django.urls import path

from apikeys import views

app_name = "apikeys"

urlpatterns = [
    path("", views.index, name="index"),
]
