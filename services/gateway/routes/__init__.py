"""The gateway's routes, one module per area, each a mixin of :class:`GatewayService`.

A mixin's methods use what the service class declares (``self.db``, ``self.config``, the RPC
clients ``self.intake`` … ``self.reporting``) and its helpers (``self._authorize``). Routes
stay thin: authenticate, authorize, call the owning service, shape the answer.
"""
