// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/**
 * @title SecurityToken
 * @notice An ERC-20 security token with ERC-3643-style agent powers and a closed holder
 *         register, for platforms that act on investors' balances while the investors keep
 *         cold keys.
 * @dev Version 2 (`version()`); version 1 has no `version()` function.
 *      Roles:
 *      - DEFAULT_ADMIN_ROLE: the platform governance address. It alone grants and revokes
 *        AGENT_ROLE, so a lost or compromised signing key can be replaced, and it alone sets
 *        and lifts the governance pause. Never the hot key.
 *      - AGENT_ROLE: the platform-held signing key (operator or issuer). It mints, burns,
 *        forces transfers, freezes, verifies, pauses and recovers, one row or a batch.
 *      Rules:
 *      - `holderTransfers` is fixed at deployment. When false (kagi's default), a holder's
 *        own transfer/transferFrom always reverts (`HolderTransfersDisabled`): every movement
 *        is an agent action, so a copied paper key moves nothing.
 *      - When true, a holder's own transfer/transferFrom needs sender and receiver verified
 *        and not frozen, and the token not paused. So a copied paper key cannot move
 *        securities to an address outside the register.
 *      - Agent operations ignore the sender's freeze (that is how frozen balances are
 *        redeemed or recovered) but refuse a frozen receiver, and make the receiver verified.
 *      - Pause stops EVERY balance change, agent ones included. This deliberately differs
 *        from T-REX, where agents may still move tokens while paused: here a pause is a
 *        full stop of the register, lifted only by unpause.
 *      - The governance pause is a second, independent flag with the same effect, set and
 *        lifted only by the admin (an emergency stop without any firm key). While it is
 *        set the agent's `unpause` reverts (`GovernancePaused`).
 *      - The firm's custody address (keyless: derived from a hash, so nobody can sign for
 *        it) is registered at deployment, so custody is on the register from block one and
 *        only agent moves take tokens in and out of it.
 *      - A batch function applies its single twin's rules row by row, in order, in one
 *        transaction: any refused row reverts the whole batch with that row's error.
 *      - No transfer to self, to the zero address, or of a zero amount.
 *      Every refusal is a custom error, decoded by the platform into an error code.
 */
contract SecurityToken is ERC20, AccessControl, Pausable {
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    uint8 private immutable _tokenDecimals;
    /// @notice Whether holders may move their own tokens (inside the register); fixed at deployment.
    bool public immutable holderTransfers;
    bool private _governancePaused;
    mapping(address account => bool) private _frozen;
    mapping(address account => bool) private _verified;

    event AddressFrozen(address indexed userAddress, bool indexed isFrozen, address indexed owner);
    event AddressVerified(address indexed userAddress, bool indexed isVerified, address indexed agent);
    event ForcedTransfer(address indexed from, address indexed to, uint256 amount);
    event RecoverySuccess(address indexed lostWallet, address indexed newWallet, uint256 amount);
    event GovernancePauseSet(address indexed account);
    event GovernancePauseLifted(address indexed account);

    error TokenPaused();
    error FrozenAddress(address account);
    error NotVerified(address account);
    error TransferToSelf();
    error ZeroAddress();
    error ZeroAmount();
    error NothingToRecover(address lostWallet);
    error GovernancePaused();
    error GovernanceNotPaused();
    error HolderTransfersDisabled();
    error BatchLengthMismatch();

    /// @param custody the deploying firm's keyless custody address, registered as an eligible holder.
    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        address admin,
        address agent,
        bool holderTransfers_,
        address custody
    ) ERC20(name_, symbol_) {
        if (admin == address(0) || agent == address(0) || custody == address(0)) revert ZeroAddress();
        _tokenDecimals = decimals_;
        holderTransfers = holderTransfers_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(AGENT_ROLE, agent);
        _setVerified(custody, true);
    }

    /// @notice The contract version kagi reads to know which functions a token has (1 has no `version()`).
    function version() external pure returns (uint8) {
        return 2;
    }

    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }

    function isFrozen(address account) external view returns (bool) {
        return _frozen[account];
    }

    function isVerified(address account) external view returns (bool) {
        return _verified[account];
    }

    function governancePaused() external view returns (bool) {
        return _governancePaused;
    }

    // ---- governance powers -----------------------------------------------------------

    /// @notice Stops every balance change until governance lifts it; the agent cannot.
    function governancePause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_governancePaused) revert GovernancePaused();
        _governancePaused = true;
        emit GovernancePauseSet(_msgSender());
    }

    function governanceUnpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_governancePaused) revert GovernanceNotPaused();
        _governancePaused = false;
        emit GovernancePauseLifted(_msgSender());
    }

    // ---- agent powers ----------------------------------------------------------------

    /// @notice Adds or removes an address from the register of eligible holders.
    function setAddressVerified(address account, bool verified) external onlyRole(AGENT_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        _setVerified(account, verified);
    }

    /// @notice Freezes or unfreezes an address: a frozen holder cannot move or receive tokens by itself.
    function setAddressFrozen(address account, bool frozen) external onlyRole(AGENT_ROLE) {
        _setFrozen(account, frozen);
    }

    function pause() external onlyRole(AGENT_ROLE) {
        _pause();
    }

    /// @notice Lifts the agent's own pause; never the governance pause.
    function unpause() external onlyRole(AGENT_ROLE) {
        if (_governancePaused) revert GovernancePaused();
        _unpause();
    }

    /// @notice Issues `amount` to `to` and makes `to` an eligible holder.
    function mint(address to, uint256 amount) external onlyRole(AGENT_ROLE) {
        _agentMint(to, amount);
    }

    /// @notice Redeems `amount` from `from`, frozen or not.
    function burn(address from, uint256 amount) external onlyRole(AGENT_ROLE) {
        _agentBurn(from, amount);
    }

    /// @notice Moves `amount` from `from` (frozen or not) to `to` (not frozen; made eligible).
    function forcedTransfer(address from, address to, uint256 amount) external onlyRole(AGENT_ROLE) returns (bool) {
        _forcedTransfer(from, to, amount);
        return true;
    }

    // ---- batches: row i is the single function with (a[i], b[i]...), in order, all or nothing

    function batchMint(address[] calldata to, uint256[] calldata amounts) external onlyRole(AGENT_ROLE) {
        if (to.length != amounts.length) revert BatchLengthMismatch();
        for (uint256 i = 0; i < to.length; ++i) _agentMint(to[i], amounts[i]);
    }

    function batchBurn(address[] calldata from, uint256[] calldata amounts) external onlyRole(AGENT_ROLE) {
        if (from.length != amounts.length) revert BatchLengthMismatch();
        for (uint256 i = 0; i < from.length; ++i) _agentBurn(from[i], amounts[i]);
    }

    function batchForcedTransfer(
        address[] calldata from,
        address[] calldata to,
        uint256[] calldata amounts
    ) external onlyRole(AGENT_ROLE) {
        if (from.length != to.length || from.length != amounts.length) revert BatchLengthMismatch();
        for (uint256 i = 0; i < from.length; ++i) _forcedTransfer(from[i], to[i], amounts[i]);
    }

    function batchSetAddressFrozen(address[] calldata accounts, bool[] calldata frozen) external onlyRole(AGENT_ROLE) {
        if (accounts.length != frozen.length) revert BatchLengthMismatch();
        for (uint256 i = 0; i < accounts.length; ++i) _setFrozen(accounts[i], frozen[i]);
    }

    /// @notice Moves the whole balance of a lost wallet to its replacement and freezes the lost wallet.
    function recoveryAddress(address lostWallet, address replacement) external onlyRole(AGENT_ROLE) returns (bool) {
        if (lostWallet == address(0) || replacement == address(0)) revert ZeroAddress();
        uint256 amount = balanceOf(lostWallet);
        if (amount == 0) revert NothingToRecover(lostWallet);
        _agentMove(lostWallet, replacement, amount);
        _frozen[lostWallet] = true;
        emit AddressFrozen(lostWallet, true, _msgSender());
        if (_verified[lostWallet]) _setVerified(lostWallet, false);
        emit RecoverySuccess(lostWallet, replacement, amount);
        return true;
    }

    // ---- balance changes ---------------------------------------------------------------

    function _agentMint(address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        _agentMove(address(0), to, amount);
    }

    function _agentBurn(address from, uint256 amount) private {
        if (from == address(0)) revert ZeroAddress();
        _agentMove(from, address(0), amount);
    }

    function _forcedTransfer(address from, address to, uint256 amount) private {
        if (from == address(0) || to == address(0)) revert ZeroAddress();
        _agentMove(from, to, amount);
        emit ForcedTransfer(from, to, amount);
    }

    /// @dev Agent path: ignores the sender's freeze and register status, refuses a frozen
    ///      receiver, and registers the receiver. Calls ERC20._update directly so the holder
    ///      rules in `_update` below do not apply.
    function _agentMove(address from, address to, uint256 amount) private {
        if (_governancePaused) revert GovernancePaused();
        if (paused()) revert TokenPaused();
        if (amount == 0) revert ZeroAmount();
        if (from == to) revert TransferToSelf();
        if (to != address(0)) {
            if (_frozen[to]) revert FrozenAddress(to);
            if (!_verified[to]) _setVerified(to, true);
        }
        ERC20._update(from, to, amount);
    }

    /// @dev Holder path (transfer, transferFrom): only when `holderTransfers`, and then both
    ///      sides registered and not frozen.
    function _update(address from, address to, uint256 amount) internal override {
        if (!holderTransfers) revert HolderTransfersDisabled();
        if (_governancePaused) revert GovernancePaused();
        if (paused()) revert TokenPaused();
        if (amount == 0) revert ZeroAmount();
        if (from == to) revert TransferToSelf();
        if (_frozen[from]) revert FrozenAddress(from);
        if (_frozen[to]) revert FrozenAddress(to);
        if (!_verified[from]) revert NotVerified(from);
        if (!_verified[to]) revert NotVerified(to);
        super._update(from, to, amount);
    }

    function _setFrozen(address account, bool frozen) private {
        if (account == address(0)) revert ZeroAddress();
        _frozen[account] = frozen;
        emit AddressFrozen(account, frozen, _msgSender());
    }

    function _setVerified(address account, bool verified) private {
        _verified[account] = verified;
        emit AddressVerified(account, verified, _msgSender());
    }
}
