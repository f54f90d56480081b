"""L-Alert (公共情報コモンズ): EDXL-DE + pcxml messages in as alerts, our alerts out as messages."""
