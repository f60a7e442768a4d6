"""The Credentials gRPC servicer: each RPC calls the backends (backends.py) and converts (conversions.py); a
VaultError ends the call with its status code and its plain message."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import grpc
from grpc.aio import ServicerContext

from credential_service import conversions
from credential_service.backends import Backends
from credential_service.vault import AlreadyExists, Invalid, NotFound, Refused, StoredBackend, VaultError
from dario.enums import BACKEND_KINDS
from dario.v1 import credentials_pb2, credentials_pb2_grpc

STATUS_CODES = {NotFound: grpc.StatusCode.NOT_FOUND, AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
                Invalid: grpc.StatusCode.INVALID_ARGUMENT, Refused: grpc.StatusCode.FAILED_PRECONDITION}
Request = TypeVar("Request")
Response = TypeVar("Response")


def vault_errors(
    method: Callable[[CredentialsServicer, Request, ServicerContext[Request, Response]], Coroutine[Any, Any, Response]],
) -> Callable[[CredentialsServicer, Request, ServicerContext[Request, Response]], Coroutine[Any, Any, Response]]:
    """Runs an RPC; a VaultError it raises becomes its status code (INTERNAL when unknown) and message."""

    @functools.wraps(method)
    async def mapped(
        servicer: CredentialsServicer,
        request: Request,
        context: ServicerContext[Request, Response],
    ) -> Response:
        try:
            return await method(servicer, request, context)
        except VaultError as error:
            await context.abort(STATUS_CODES.get(type(error), grpc.StatusCode.INTERNAL), str(error))

    return mapped


class CredentialsServicer(credentials_pb2_grpc.CredentialsServicer):
    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def _public(self, backend: StoredBackend) -> credentials_pb2.Backend:
        standings = [self.backends.standing(backend, credential) for credential in backend.credentials]
        return conversions.backend_to_proto(backend, self.backends.source(backend), standings)

    @vault_errors
    async def AddBackend(
        self,
        request: credentials_pb2.AddBackendRequest,
        context: ServicerContext[credentials_pb2.AddBackendRequest, credentials_pb2.AddBackendResponse],
    ) -> credentials_pb2.AddBackendResponse:
        backend, found = await self.backends.add_backend(request.name, BACKEND_KINDS.name(request.kind),
                                                         request.base_url,
                                                         request.credential_name, request.api_key,
                                                         request.no_credential, request.probe)
        return credentials_pb2.AddBackendResponse(
            backend=self._public(backend), probe=None if found is None else conversions.probe_to_proto(found))

    @vault_errors
    async def ProbeBackend(
        self,
        request: credentials_pb2.ProbeBackendRequest,
        context: ServicerContext[credentials_pb2.ProbeBackendRequest, credentials_pb2.ProbeBackendResponse],
    ) -> credentials_pb2.ProbeBackendResponse:
        found = await self.backends.probe(request.name)
        return credentials_pb2.ProbeBackendResponse(results=[conversions.probe_to_proto(one) for one in found])

    async def ListBackends(
        self,
        request: credentials_pb2.ListBackendsRequest,
        context: ServicerContext[credentials_pb2.ListBackendsRequest, credentials_pb2.ListBackendsResponse],
    ) -> credentials_pb2.ListBackendsResponse:
        return credentials_pb2.ListBackendsResponse(backends=[self._public(b) for b in self.backends.all()])

    @vault_errors
    async def AddCredential(
        self,
        request: credentials_pb2.AddCredentialRequest,
        context: ServicerContext[credentials_pb2.AddCredentialRequest, credentials_pb2.AddCredentialResponse],
    ) -> credentials_pb2.AddCredentialResponse:
        backend = await self.backends.add_credential(request.backend, conversions.credential_from_proto(request),
                                                     request.replace)
        return credentials_pb2.AddCredentialResponse(backend=self._public(backend))

    @vault_errors
    async def RemoveCredential(
        self,
        request: credentials_pb2.RemoveCredentialRequest,
        context: ServicerContext[credentials_pb2.RemoveCredentialRequest, credentials_pb2.RemoveCredentialResponse],
    ) -> credentials_pb2.RemoveCredentialResponse:
        backend = await self.backends.remove_credential(request.backend, request.name)
        return credentials_pb2.RemoveCredentialResponse(remaining=len(backend.credentials))

    @vault_errors
    async def CompleteLogin(
        self,
        request: credentials_pb2.CompleteLoginRequest,
        context: ServicerContext[credentials_pb2.CompleteLoginRequest, credentials_pb2.CompleteLoginResponse],
    ) -> credentials_pb2.CompleteLoginResponse:
        draft, login = conversions.login_from_proto(request)
        backend = await self.backends.complete_login(request.backend, draft, login)
        return credentials_pb2.CompleteLoginResponse(backend=self._public(backend))

    @vault_errors
    async def Refresh(
        self,
        request: credentials_pb2.RefreshRequest,
        context: ServicerContext[credentials_pb2.RefreshRequest, credentials_pb2.RefreshResponse],
    ) -> credentials_pb2.RefreshResponse:
        refreshed = await self.backends.refresh(request.backend, request.credential, request.force,
                                                request.stale_revision)
        return credentials_pb2.RefreshResponse(results=[conversions.refreshed_to_proto(one) for one in refreshed])

    @vault_errors
    async def RemoveBackend(
        self,
        request: credentials_pb2.RemoveBackendRequest,
        context: ServicerContext[credentials_pb2.RemoveBackendRequest, credentials_pb2.RemoveBackendResponse],
    ) -> credentials_pb2.RemoveBackendResponse:
        return credentials_pb2.RemoveBackendResponse(credentials_removed=await self.backends.remove_backend(
            request.name))

    async def WatchBackends(
        self,
        request: credentials_pb2.WatchBackendsRequest,
        context: ServicerContext[credentials_pb2.WatchBackendsRequest, credentials_pb2.WatchBackendsResponse],
    ) -> AsyncIterator[credentials_pb2.WatchBackendsResponse]:
        async for generation in self.backends.changes():
            yield credentials_pb2.WatchBackendsResponse(
                backends=[self._public(backend) for backend in self.backends.all()], generation=generation)

    async def WatchLeases(
        self,
        request: credentials_pb2.WatchLeasesRequest,
        context: ServicerContext[credentials_pb2.WatchLeasesRequest, credentials_pb2.WatchLeasesResponse],
    ) -> AsyncIterator[credentials_pb2.WatchLeasesResponse]:
        """Pushes every usable lease (rotations included): the frontend never asks per request."""
        async for generation in self.backends.changes():
            leases = [credentials_pb2.LeaseEntry(backend=backend.name, credential=credential.name,
                                                 lease=conversions.lease_to_proto(grant, credential))
                      for backend, credential, grant in self.backends.leases()]
            yield credentials_pb2.WatchLeasesResponse(leases=leases, generation=generation)

    @vault_errors
    async def Lease(
        self,
        request: credentials_pb2.LeaseRequest,
        context: ServicerContext[credentials_pb2.LeaseRequest, credentials_pb2.LeaseResponse],
    ) -> credentials_pb2.LeaseResponse:
        return credentials_pb2.LeaseResponse(
            lease=conversions.lease_to_proto(*self.backends.lease(request.backend, request.credential)))
