"""fsorg desktop app (Qt). A view onto ``engine``: no business logic lives here."""
