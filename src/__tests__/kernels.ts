/**
 * Kernels for the tests: JupyterLab's own mocks (KernelMock, createSimpleSessionContext),
 * taught to answer an execute request with given IOPub messages and reply.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import { Mock } from '@jupyterlab/testutils';
import { KernelMock, MockShellFuture } from '@jupyterlab/services/lib/testutils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import type { Signal } from '@lumino/signaling';

/** A notebook session whose mock kernel speaks `language` (its info says so). */
export function sessionWithKernel(language = 'python'): ISessionContext {
  return Mock.createSimpleSessionContext({ kernel: { id: `kernel-${language}`, name: language } });
}

export function kernelOf(session: ISessionContext): Kernel.IKernelConnection {
  return session.session!.kernel!;
}

export interface IAnswer {
  /** IOPub messages the run produces, in order. */
  iopub?: { msgType: KernelMessage.IOPubMessageType; content: object }[];
  /** The execute reply's user_expressions. */
  userExpressions?: Record<string, unknown>;
  /** A run that never finishes (a hung kernel). */
  hang?: boolean;
}

/** Make the kernel answer every execute request so; returns the mock to inspect calls. */
export function answer(kernel: Kernel.IKernelConnection, how: IAnswer): jest.Mock {
  const requestExecute = kernel.requestExecute as jest.Mock;
  requestExecute.mockImplementation(() => {
    const reply = KernelMessage.createMessage({
      channel: 'shell',
      msgType: 'execute_reply',
      session: kernel.clientId,
      content: {
        status: 'ok',
        execution_count: 1,
        user_expressions: how.userExpressions ?? {}
      } as KernelMessage.IExecuteReplyMsg['content']
    });
    const future = new MockShellFuture(reply) as Kernel.IShellFuture;
    if (how.hang) {
      (future as { done: Promise<unknown> }).done = new Promise(() => undefined);
    }
    // The messages arrive after the caller has set onIOPub, before the reply settles.
    queueMicrotask(() => {
      for (const message of how.iopub ?? []) {
        void future.onIOPub(
          KernelMessage.createMessage({
            channel: 'iopub',
            msgType: message.msgType,
            session: kernel.clientId,
            content: message.content
          } as never)
        );
      }
    });
    return future;
  });
  return requestExecute;
}

/** Set the mock kernel's status, as the server would report it. */
export function setStatus(kernel: Kernel.IKernelConnection, status: Kernel.Status): void {
  (kernel as { status: Kernel.Status }).status = status;
}

/**
 * A mock kernel connection speaking `language`, with comm targets (KernelMock has none):
 * `registerCommTarget` is a jest mock to read the handlers from.
 */
export function mockKernel(language = 'python'): Kernel.IKernelConnection & {
  registerCommTarget: jest.Mock;
} {
  const kernel = new KernelMock({ model: { name: language } });
  return Object.assign(kernel, { registerCommTarget: jest.fn() });
}

/** The kernel's status changes, as the server reports it (statusChanged emits). */
export function changeStatus(kernel: Kernel.IKernelConnection, status: Kernel.Status): void {
  setStatus(kernel, status);
  (kernel.statusChanged as Signal<Kernel.IKernelConnection, Kernel.Status>).emit(status);
}
