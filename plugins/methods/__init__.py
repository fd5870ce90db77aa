"""The training methods, one module each, registered with `@register(name)` (`plugins.api.PLUGINS`), with the
helpers that only one method uses beside it. Nothing is imported here: the registry reads these modules' source
and imports only the method it is asked for."""
