import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { network, useNetwork } from '../network';
import { trpc } from '../trpc';

interface ToggleProps {
  testId: string;
  label: string;
  detail: ReactNode;
  checked: boolean;
  disabled?: boolean;
  onChange(checked: boolean): void;
}

function Toggle({ testId, label, detail, checked, disabled, onChange }: ToggleProps) {
  return (
    <label className={`fault ${disabled ? 'disabled' : ''}`}>
      <span className="fault-text">
        <strong>{label}</strong>
        <small>{detail}</small>
      </span>
      <input
        type="checkbox"
        role="switch"
        aria-checked={checked}
        className="switch"
        data-testid={testId}
        checked={checked}
        disabled={disabled}
        onChange={(event) => onChange(event.target.checked)}
      />
    </label>
  );
}

interface StepperProps {
  testId: string;
  label: string;
  detail: ReactNode;
  value: number;
  step: number;
  max: number;
  unit: string;
  disabled?: boolean;
  onChange(value: number): void;
}

function Stepper({ testId, label, detail, value, step, max, unit, disabled, onChange }: StepperProps) {
  const set = (next: number) => onChange(Math.min(max, Math.max(0, next)));
  return (
    <div className={`fault ${disabled ? 'disabled' : ''}`}>
      <span className="fault-text">
        <strong>{label}</strong>
        <small>{detail}</small>
      </span>
      <span className="stepper">
        <button
          type="button"
          aria-label={`less ${label}`}
          onClick={() => set(value - step)}
          disabled={disabled || value <= 0}
        >
          −
        </button>
        <output data-testid={testId} data-value={value}>
          {value}
          {unit}
        </output>
        <button
          type="button"
          aria-label={`more ${label}`}
          onClick={() => set(value + step)}
          disabled={disabled || value >= max}
        >
          +
        </button>
      </span>
    </div>
  );
}

/**
 * Switches the faults on and off: "Go offline" for this tab alone, and the server's faults, which hit keyed
 * `payments.create` calls from every tab and from curl.
 */
export function ChaosPanel({ leaseSeconds }: { leaseSeconds?: number }) {
  const networkState = useNetwork();
  const online = networkState === 'online';
  const queryClient = useQueryClient();
  const chaos = useQuery({ ...trpc.chaos.get.queryOptions(), refetchInterval: 5000 });
  const update = useMutation(
    trpc.chaos.set.mutationOptions({
      onSuccess: (state) => queryClient.setQueryData(trpc.chaos.get.queryKey(), state),
    }),
  );
  const settings = chaos.data?.settings;
  const canCutStore = chaos.data?.canCutStore === true;
  // PostgreSQL and SQLite write the payment in the store's transaction: a late write is rolled back.
  const transactional = chaos.data?.backend === 'postgres' || chaos.data?.backend === 'sqlite';
  const active = [
    network.offline,
    settings?.dropResponseAfterCommit,
    (settings?.delayMs ?? 0) > 0,
    (settings?.failFirstAttempts ?? 0) > 0,
    settings?.storeUnreachable,
    settings?.pauseHandlerPastLease,
  ].filter(Boolean).length;

  return (
    <section className="card chaos" aria-labelledby="chaos-title">
      <div className="card-head">
        <h2 id="chaos-title">Network chaos</h2>
        {settings || active ? (
          <span className={`pill ${active ? 'warn' : ''}`} data-testid="chaos-active">
            {active ? `${active} fault${active > 1 ? 's' : ''} on` : 'all calm'}
          </span>
        ) : null}
      </div>
      <div className="faults">
        <Toggle
          testId="chaos-offline"
          label="Go offline (this tab)"
          detail="This tab loses its network, as on a train: a payment waits, paused, and is sent once when you switch it off, even after a reload."
          checked={network.offline}
          onChange={(offline) => network.set(offline)}
        />
      </div>
      {!online ? (
        <p className="notice info" data-testid="chaos-offline-note">
          {networkState === 'switched-off'
            ? 'This tab is offline: the server’s switches come back with the network.'
            : 'This device is offline: the server’s switches come back with the network.'}
        </p>
      ) : null}
      {settings ? (
        <div className="faults">
          <Toggle
            testId="chaos-drop"
            label="Drop response after commit"
            detail="The payment is saved, then the connection is cut before the answer arrives."
            checked={settings.dropResponseAfterCommit}
            disabled={!online}
            onChange={(dropResponseAfterCommit) => update.mutate({ dropResponseAfterCommit })}
          />
          <Stepper
            testId="chaos-delay"
            label="Delay"
            detail="Added before the server handles a payment."
            value={settings.delayMs}
            step={500}
            max={5000}
            unit=" ms"
            disabled={!online}
            onChange={(delayMs) => update.mutate({ delayMs })}
          />
          <Stepper
            testId="chaos-fail-first"
            label="Fail first attempts"
            detail="Answer 503 to the first N tries of each payment, before it runs."
            value={settings.failFirstAttempts}
            step={1}
            max={4}
            unit=""
            disabled={!online}
            onChange={(failFirstAttempts) => update.mutate({ failFirstAttempts })}
          />
          <Toggle
            testId="chaos-pause"
            label="Pause the handler past its lease"
            detail={`The first server to take a payment stops before writing it, longer than its ${leaseSeconds ?? 5} s lease. The retry takes over; ${transactional ? 'the late write’s transaction is rolled back' : 'the ledger refuses the late write'}.`}
            checked={settings.pauseHandlerPastLease}
            disabled={!online}
            onChange={(pauseHandlerPastLease) => update.mutate({ pauseHandlerPastLease })}
          />
          <Toggle
            testId="chaos-store-down"
            label="Store unreachable"
            detail={
              canCutStore
                ? 'Cut the idempotency store off.'
                : 'Needs a store outside this process’s memory: start without EXAMPLE_STORE=memory.'
            }
            checked={settings.storeUnreachable}
            disabled={!canCutStore || !online}
            onChange={(storeUnreachable) => update.mutate({ storeUnreachable })}
          />
        </div>
      ) : !online ? null : (
        <p className="empty" data-testid="chaos-unavailable">
          {chaos.isError ? 'The server does not answer, so the switches cannot be read.' : 'Loading the switches…'}
        </p>
      )}
      {update.isError ? (
        <p className="field-error" role="alert">
          The switch did not change: the server did not answer. Try again.
        </p>
      ) : null}
    </section>
  );
}
