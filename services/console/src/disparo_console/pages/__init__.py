"""One module per page group; each handler gathers data from the services and renders."""
