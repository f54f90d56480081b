"""The JMA integration: 気象庁防災情報XML telegrams in (files, HTTP, the Atom feed), alerts out."""
